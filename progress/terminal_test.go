package progress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Off a terminal, steps and passes print plain lines; quiet prints only warnings.
func TestTerminalPlainLines(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		f, err := os.Create(filepath.Join(t.TempDir(), "log"))
		if err != nil {
			t.Fatal(err)
		}
		p := New(f, quiet)
		var ev Events = p
		ev.Begin(100)
		ev.Step("blk.0.attn_q.weight", 50)
		ev.Progress(25)
		ev.EndStep("pq_4x8")
		ev.Warn("careful")
		p.SetLabel("model.gguf")
		p.Chunk("collect", 1, 2)
		p.Chunk("collect", 2, 2)
		p.Printf("imatrix: %d tensors", 3)
		p.Finish()
		f.Close()
		b, _ := os.ReadFile(f.Name())
		got := string(b)
		want := []string{"[ 50%] blk.0.attn_q.weight: pq_4x8 (", "warning: careful\n", "model.gguf collect: chunk 2/2,", "imatrix: 3 tensors\n"}
		if quiet {
			want = want[1:2]
			if strings.Contains(got, "chunk") || strings.Contains(got, "pq_4x8") {
				t.Errorf("quiet printed progress:\n%s", got)
			}
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("quiet=%v: no %q in\n%s", quiet, w, got)
			}
		}
	}
}
