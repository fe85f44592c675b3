package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketgguf/pocketgguf/testmodels"
)

// buildBinary builds the pocketgguf command into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "pocketgguf")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSIGINTLeavesNoTempFile runs the real binary on a model big enough to
// take a while, interrupts it once its temporary output exists, and checks
// that the output directory is empty afterwards.
func TestSIGINTLeavesNoTempFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	in := filepath.Join(dir, "small.gguf")
	if err := testmodels.Generate(in, testmodels.Presets["small"]); err != nil {
		t.Fatal(err)
	}
	odir := t.TempDir()
	cmd := exec.Command(bin, "convert", "--fast", "--method", "pocketllm", "--epochs", "100000", "--threads", "1", in, filepath.Join(odir, "out.gguf"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ents, _ := os.ReadDir(odir)
		if len(ents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no temporary file appeared in 30s; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if err == nil {
		t.Fatal("interrupted convert exited 0")
	}
	ents, _ := os.ReadDir(odir)
	for _, e := range ents {
		t.Errorf("left behind: %s", e.Name())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say interrupted:\n%s", stderr.String())
	}
}

func TestConvertInspectUnpackCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	in := filepath.Join(dir, "tiny.gguf")
	if err := testmodels.Generate(in, testmodels.Presets["tiny"]); err != nil {
		t.Fatal(err)
	}
	pq := filepath.Join(dir, "tiny.pq.gguf")
	out, err := exec.Command(bin, "convert", "--fast", "-q", "--bpw", "3", "--method", "kmeans", in, pq).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "bits per weight") || !strings.Contains(string(out), "smaller than F16") {
		t.Fatalf("convert: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "inspect", pq).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "blk.0.attn_q.weight") || !strings.Contains(string(out), "pqa_") { // --prefer speed
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "inspect", "--json", "--compare", in, pq).Output()
	var rep struct {
		BPW     float64 `json:"bpw"`
		Tensors []struct {
			Name    string   `json:"name"`
			RelRMSE *float64 `json:"rel_rmse"`
		} `json:"tensors"`
	}
	if err != nil || json.Unmarshal(out, &rep) != nil || rep.BPW > 3 || len(rep.Tensors) != 21 || rep.Tensors[3].RelRMSE == nil {
		t.Fatalf("inspect --json: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "inspect", in).CombinedOutput() // any GGUF, not only PocketGGUF
	if err != nil || !strings.Contains(string(out), "32.000") {
		t.Fatalf("inspect of the f32 input: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "unpack", "-q", "--type", "q8_0", pq, filepath.Join(dir, "u.gguf")).CombinedOutput()
	if err != nil {
		t.Fatalf("unpack: %v\n%s", err, out)
	}
	// Flags after the arguments, as llama-quantize allows: the same bytes.
	pq2 := filepath.Join(dir, "tiny2.pq.gguf")
	if out, err := exec.Command(bin, "convert", "--fast", in, pq2, "-q", "--bpw", "3", "--method", "kmeans").CombinedOutput(); err != nil {
		t.Fatalf("convert with trailing flags: %v\n%s", err, out)
	}
	if a, b := readFile(t, pq), readFile(t, pq2); !bytes.Equal(a, b) {
		t.Fatal("convert IN OUT --flags and convert --flags IN OUT wrote different files")
	}
	if out, err := exec.Command(bin, "unpack", pq, filepath.Join(dir, "u2.gguf"), "--type", "bf16").CombinedOutput(); err == nil || !strings.Contains(string(out), "--type") {
		t.Fatalf("unpack with a bad trailing --type: %v\n%s", err, out)
	}
	// An explicit type only the plain family has wins over the default --prefer speed; with an
	// explicit --prefer speed it is an error naming the flags.
	out, err = exec.Command(bin, "convert", "--fast", "-q", "--vec-len", "2", "--codebook-bits", "8", in, filepath.Join(dir, "p2.gguf")).CombinedOutput()
	if err != nil {
		t.Fatalf("convert --vec-len 2: %v\n%s", err, out)
	}
	if out, err = exec.Command(bin, "inspect", filepath.Join(dir, "p2.gguf")).CombinedOutput(); err != nil || !strings.Contains(string(out), "pq_2x8") {
		t.Fatalf("convert --vec-len 2 --codebook-bits 8 did not write pq_2x8: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "convert", "--fast", "-q", "--prefer", "speed", "--vec-len", "2", in, filepath.Join(dir, "p3.gguf")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--prefer speed") || !strings.Contains(string(out), "--vec-len 2") {
		t.Fatalf("convert --prefer speed --vec-len 2: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "convert", "--fast", "--bpw", "0.3", in, filepath.Join(dir, "x.gguf")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--bpw 0.3") {
		t.Fatalf("impossible --bpw: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.gguf")); err == nil {
		t.Fatal("impossible --bpw left an output file")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
