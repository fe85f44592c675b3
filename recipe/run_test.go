package recipe

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/finetune"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

// Run carries out a plan with fine-tuning on a real (generated) model and
// leaves exactly OUT; a cancelled run leaves nothing, not even the scratch
// file that fine-tuning reads.
func TestRunWritesOnlyOut(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "tiny.gguf")
	if err := testmodels.Generate(in, testmodels.Presets["tiny"]); err != nil {
		t.Fatal(err)
	}
	ft := finetune.DefaultOptions()
	job := Job{In: in, Plan: Plan{Source: SourceSelf, Chunks: 4, Ctx: 32, GPTQ: true, Epochs: 1},
		Convert: converter.Options{BPW: 3, Seed: 1, Prefer: converter.PreferSpeed}, Finetune: ft,
		GPTQMaxCols: DefaultGPTQMaxCols}
	job.Calib.Quiet = true

	outDir := t.TempDir()
	job.Out = filepath.Join(outDir, "cancelled.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, job); err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	if e, _ := os.ReadDir(outDir); len(e) != 0 {
		t.Fatalf("a cancelled run left %d files, e.g. %s", len(e), e[0].Name())
	}

	job.Out = filepath.Join(outDir, "out.gguf")
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Finetune == nil || res.Convert.BPW > 3 || len(job.Convert.ImatrixData) != 0 {
		t.Fatalf("result %+v (the job's own options must stay untouched)", res)
	}
	if e, _ := os.ReadDir(outDir); len(e) != 1 || e[0].Name() != "out.gguf" {
		t.Fatalf("after a run the folder holds %v, want only out.gguf", e)
	}
}
