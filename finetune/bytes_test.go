package finetune

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/envconfig"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

// runBytesCases are Run's outputs recorded before it stopped loading the
// original and the student as whole f32 models (the lean ggml path computes
// rel_rmse tensor by tensor, rebuilds dense weights only where needed and
// feeds the shadow weights' Adam step from the trainer): the change is meant
// to be exact, so the bytes must not move. Recorded inputs come first: when
// the converter or the test-model generator changes what they write, the
// outputs cannot be compared and the test skips (re-record with
// POCKET_FT_RECORD=1 from a tree whose Run is trusted).
var runBytesCases = []struct {
	name, prefer, engine string
	codeLR               float64
	mixed                bool // sequences of two lengths: batches of two graphs
	keep                 bool // converter.Options.KeepEmbeddings: fixed tensors the trainer reads from the file
	in, out              string
}{
	{"ggml fixed", "", EngineGGML, 0, false, false, "8efee239dc74e06a/00ab2a24e55890d5", "f42f312f1f13ff0a"},
	{"ggml codes", "", EngineGGML, 0.1, false, false, "8efee239dc74e06a/00ab2a24e55890d5", "53e98ecc905c0092"},
	{"ggml codes mixed lengths", "", EngineGGML, 0.1, true, false, "8efee239dc74e06a/00ab2a24e55890d5", "be316e5d928a290f"},
	{"ggml codes additive", "speed", EngineGGML, 0.1, false, false, "8efee239dc74e06a/b518a180e3698e5b", "8a2a2c88cfae8ba5"},
	{"ggml fixed kept embeddings", "", EngineGGML, 0, false, true, "8efee239dc74e06a/0bac459e0c59640b", "8447aa1de0f3b54f"},
	{"ggml codes kept embeddings", "", EngineGGML, 0.1, false, true, "8efee239dc74e06a/0bac459e0c59640b", "837472c9fb429ee9"},
	{"go codes", "", EngineGo, 0.1, false, false, "8efee239dc74e06a/00ab2a24e55890d5", "f4574b7c97031495"},
}

func sha(t *testing.T, p string) string {
	t.Helper()
	h := sha256.Sum256(read(t, p))
	return hex.EncodeToString(h[:8])
}

// TestRunBytesUnchanged holds Run's output on the tiny model to recorded bytes.
func TestRunBytesUnchanged(t *testing.T) {
	record := envconfig.FinetuneRecord.Set()
	dir := t.TempDir()
	orig := filepath.Join(dir, "tiny.gguf")
	cfg := testmodels.Presets["tiny"]
	cfg.Layers = 1
	if err := testmodels.Generate(orig, cfg); err != nil {
		t.Fatal(err)
	}
	pqs := map[string]string{}
	for _, c := range runBytesCases {
		key := fmt.Sprintf("%s-%v", c.prefer, c.keep)
		pq, ok := pqs[key]
		if !ok {
			pq = filepath.Join(dir, key+".pq.gguf")
			co := converter.Options{BPW: 2.5, Threads: 2, Prefer: converter.Prefer(c.prefer)}
			if c.keep {
				co.KeepEmbeddings, co.BPW = true, 6 // tiny's embedding and head are most of it
			}
			if _, err := converter.Convert(context.Background(), orig, pq, co); err != nil {
				t.Fatal(err)
			}
			pqs[key] = pq
		}
		seqs := randomSeqs(10, 24, 320)
		if c.mixed {
			for i := 0; i < len(seqs); i += 3 {
				seqs[i] = seqs[i][:16]
			}
		}
		o := Options{Epochs: 2, LR: 1e-2, Batch: 2, Threads: 1, Seed: 1, CodeLR: c.codeLR, Engine: c.engine}
		out := filepath.Join(dir, "out.gguf")
		rep, err := Run(context.Background(), orig, pq, out, seqs, o)
		if err != nil {
			t.Fatal(err)
		}
		if rep.BestEpoch == 0 {
			t.Errorf("%s: no epoch kept (held-out KL %.4f -> %.4f): the bytes would hold nothing", c.name, rep.StartKL, rep.BestKL)
		}
		in := sha(t, orig) + "/" + sha(t, pq)
		got := sha(t, out)
		switch {
		case record:
			t.Logf("{%q, %q, %q, %g, %v, %v, %q, %q},", c.name, c.prefer, c.engine, c.codeLR, c.mixed, c.keep, in, got)
		case in != c.in:
			t.Skipf("%s: inputs are %s, recorded %s: the converter or generator changed, re-record", c.name, in, c.in)
		case got != c.out:
			t.Errorf("%s: output %s, recorded %s", c.name, got, c.out)
		}
	}
}
