package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Flags that do not parse are refused naming the flag, before any work.
func TestReportRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	for _, c := range []struct {
		flags []string
		name  string
	}{
		{[]string{"--bpw", "2,x"}, "--bpw"},
		{[]string{"--types", "Q8_0,Q9_9"}, "--types"},
		{[]string{"--sensitivity", "--sensitivity-configs", "v2k16,v2"}, "--sensitivity-configs"},
		{[]string{"--model", filepath.Join(dir, "missing.gguf")}, "missing.gguf"},
	} {
		args := append([]string{"report", "--model", "m.gguf", "--text", "t.txt", "--work-dir", work, "--out", filepath.Join(dir, "R.md"), "-q"}, c.flags...)
		_, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%v: error %v does not name %s", c.flags, err, c.name)
		}
		if _, err := os.Stat(work); err == nil {
			t.Errorf("%v: work dir made before the flags were checked", c.flags)
		}
	}
}
