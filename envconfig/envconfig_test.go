package envconfig

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// Every quoted "POCKET_..." in the tree's Go code names a declared variable,
// and each is declared once.
func TestEveryKnobIsDeclared(t *testing.T) {
	declared := map[string]bool{}
	for _, v := range All() {
		if declared[v.Name] {
			t.Errorf("%s declared twice", v.Name)
		}
		if v.Doc == "" {
			t.Errorf("%s has no doc", v.Name)
		}
		declared[v.Name] = true
	}
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(here))
	lit := regexp.MustCompile(`"(POCKET_[A-Z0-9_]+)"`)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (n == "build" || strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasPrefix(p, filepath.Join(root, "envconfig")) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			if !declared[m[1]] {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s reads %s, which envconfig does not declare", rel, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
