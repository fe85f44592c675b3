package golden

import (
	gobuild "go/build"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The low layers import no project package above them (docs/ARCHITECTURE.md,
// "Layers"): the container knows nothing of the codec, the codec nothing of
// training or conversion.
func TestLowLayersImportNothingAbove(t *testing.T) {
	const mod = "github.com/pocketgguf/pocketgguf/"
	allowed := map[string][]string{
		"gguf":      nil,
		"progress":  nil,
		"envconfig": nil,
		"format":    {"gguf"},
		"calib":     {"gguf"},
		// report drives the whole pipeline but nothing above it (cli, tools, tests)
		"report": {"gguf", "progress", "envconfig", "format", "calib", "bridge", "quant",
			"converter", "eval", "finetune", "eval/llamasrc", "calib/llamacalib"},
	}
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(here))
	for pkg, ok := range allowed {
		bp, err := gobuild.ImportDir(filepath.Join(root, pkg), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range bp.Imports { // tests may use test tooling (envconfig, fuzz/allocguard)
			dep, isOurs := strings.CutPrefix(imp, mod)
			if !isOurs || dep == pkg {
				continue
			}
			allowedDep := false
			for _, a := range ok {
				allowedDep = allowedDep || dep == a
			}
			if !allowedDep {
				t.Errorf("%s imports %s", pkg, dep)
			}
		}
	}
}
