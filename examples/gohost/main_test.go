package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/envconfig"
)

func storiesModel(t *testing.T) string {
	p := filepath.Join("..", "..", "..", "shared", "testdata", "models", "stories260K.gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("test model %s not found: %v", p, err)
	}
	return p
}

// The host streams stories260K's greedy continuation, piece by piece.
func TestRunStreamsGreedyStory(t *testing.T) {
	var out, info bytes.Buffer
	w := &countingWriter{w: &out}
	res, err := run(context.Background(), options{model: storiesModel(t), prompt: "Once upon a time", predict: 16, ctx: 128, threads: 1, seed: 42}, w, &info)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tokens != 16 || res.Stop != "length" {
		t.Fatalf("result %+v, want 16 tokens stopped by length", res)
	}
	if !strings.HasPrefix(out.String(), "Once upon a time, there was a little girl named Lily") {
		t.Fatalf("output %q", out.String())
	}
	if w.writes < 10 {
		t.Fatalf("%d writes: the text was not streamed", w.writes)
	}
	if !strings.Contains(info.String(), "16 generated tokens") {
		t.Fatalf("summary %q", info.String())
	}
}

func TestRunMissingModel(t *testing.T) {
	_, err := run(context.Background(), options{model: filepath.Join(t.TempDir(), "nope.gguf"), predict: 1}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "nope.gguf") {
		t.Fatalf("got %v, want an error naming the file", err)
	}
}

type countingWriter struct {
	w      *bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) { c.writes++; return c.w.Write(p) }

// A PocketGGUF streams the same greedy text as its unpacked dense twin
// (POCKET_E2E_PQ / POCKET_E2E_PQ_REF, or made here with pocketgguf convert
// and unpack, as in e2e/).
func TestRunPocketGGUFMatchesUnpacked(t *testing.T) {
	pq, ref := envconfig.E2EPQ.Value(), envconfig.E2EPQRef.Value()
	if pq == "" || ref == "" {
		dir := t.TempDir()
		bin := filepath.Join(dir, "pocketgguf")
		pq, ref = filepath.Join(dir, "pq.gguf"), filepath.Join(dir, "unpacked.gguf")
		for _, args := range [][]string{
			{"go", "build", "-o", bin, "../../cli"},
			{bin, "convert", "--fast", "-q", "--vec-len", "2", "--codebook-bits", "8", "--seed", "1", storiesModel(t), pq},
			{bin, "unpack", "-q", "--type", "f32", pq, ref},
		} {
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
	}
	texts := make([]string, 2)
	for i, m := range []string{pq, ref} {
		var out, info bytes.Buffer
		res, err := run(context.Background(), options{model: m, prompt: "Once upon a time", predict: 24, ctx: 128, threads: 1, seed: 42}, &out, &info)
		if err != nil {
			t.Fatal(err)
		}
		if res.Tokens == 0 {
			t.Fatalf("%s: no tokens", m)
		}
		texts[i] = out.String()
	}
	if texts[0] != texts[1] {
		t.Fatalf("greedy text differs:\n PQ:       %q\n unpacked: %q", texts[0], texts[1])
	}
	t.Logf("%q", texts[0])
}
