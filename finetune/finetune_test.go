package finetune

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

// tinyPQ writes the tiny test model and its PocketGGUF at 2.5 bpw into dir.
func tinyPQ(t *testing.T, dir string) (orig, pq string) { return tinyPQPrefer(t, dir, "") }

// tinyPQPrefer is tinyPQ with converter.Options.Prefer (speed: additive types).
func tinyPQPrefer(t *testing.T, dir, prefer string) (orig, pq string) {
	t.Helper()
	orig, pq = filepath.Join(dir, "tiny.gguf"), filepath.Join(dir, "tiny."+prefer+".pq.gguf")
	cfg := testmodels.Presets["tiny"]
	cfg.Layers = 1
	if err := testmodels.Generate(orig, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := converter.Convert(context.Background(), orig, pq, converter.Options{BPW: 2.5, Threads: 2, Prefer: converter.Prefer(prefer)}); err != nil {
		t.Fatal(err)
	}
	return orig, pq
}

func randomSeqs(n, T, vocab int) [][]int32 {
	rng := rand.New(rand.NewPCG(5, 5))
	seqs := make([][]int32, n)
	for i := range seqs {
		seqs[i] = make([]int32, T)
		for j := range seqs[i] {
			seqs[i][j] = int32(rng.IntN(vocab))
		}
	}
	return seqs
}

// TestRunLowersKLAndKeepsLayout tunes a real PocketGGUF of the tiny model,
// with fixed indices and with moving ones: the held-out KL must fall, every
// tensor and key keep its type, size and offset (so the file size is
// unchanged), the indices stay byte-identical unless CodeLR moves them, and
// the result must not depend on the thread count.
func TestRunLowersKLAndKeepsLayout(t *testing.T) {
	dir := t.TempDir()
	orig, pq := tinyPQ(t, dir)
	seqs := randomSeqs(10, 24, 320)
	for _, codeLR := range []float64{0, 3e-2} {
		o := Options{Epochs: 8, LR: 1e-2, Batch: 2, Threads: 1, Seed: 1, CodeLR: codeLR}
		out1, out2 := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
		rep, err := Run(context.Background(), orig, pq, out1, seqs, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("code lr %g: held-out KL %.4f -> %.4f (epoch %d)", codeLR, rep.StartKL, rep.BestKL, rep.BestEpoch)
		// A random model on random tokens gains far less than a trained one
		// (cli's TestFinetuneLowersKLD measures stories260K), but it must gain.
		if !(rep.BestKL < 0.92*rep.StartKL) {
			t.Errorf("code lr %g: held-out KL %.4f -> %.4f: want at least 8%% lower", codeLR, rep.StartKL, rep.BestKL)
		}
		o.Threads = 3
		if _, err := Run(context.Background(), orig, pq, out2, seqs, o); err != nil {
			t.Fatal(err)
		}
		a, b := read(t, out1), read(t, out2)
		if !bytes.Equal(a, b) {
			t.Errorf("code lr %g: 1 and 3 threads wrote different bytes", codeLR)
		}
		if p := read(t, pq); len(p) != len(a) {
			t.Errorf("code lr %g: size changed: %d -> %d bytes", codeLR, len(p), len(a))
		}
		norms, matrices := compareTensors(t, pq, out1)
		if norms == 0 {
			t.Errorf("code lr %g: no norm weight changed", codeLR)
		}
		if codeLR == 0 && matrices != 0 {
			t.Errorf("fixed indices: %d matrices' data changed", matrices)
		}
		if codeLR > 0 && matrices == 0 {
			t.Errorf("code lr %g: no index moved", codeLR)
		}
	}
}

// compareTensors checks that b has a's tensors and keys with the same
// names, types and offsets and counts the 1-D and 2-D tensors whose data differ.
func compareTensors(t *testing.T, a, b string) (vectors, matrices int) {
	t.Helper()
	ga, err := gguf.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer ga.Close()
	gb, err := gguf.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer gb.Close()
	for i := range ga.Tensors {
		x, y := &ga.Tensors[i], &gb.Tensors[i]
		if x.Name != y.Name || x.Type != y.Type || x.Offset != y.Offset {
			t.Fatalf("tensor %d: %s %v @%d became %s %v @%d", i, x.Name, x.Type, x.Offset, y.Name, y.Type, y.Offset)
		}
		dx, _ := ga.ReadTensor(x)
		dy, _ := gb.ReadTensor(y)
		if !bytes.Equal(dx, dy) {
			if len(x.Shape) > 1 {
				matrices++
			} else {
				vectors++
			}
		}
	}
	for i, kv := range ga.KVs {
		if gb.KVs[i].Key != kv.Key || gb.KVs[i].Value.Type != kv.Value.Type {
			t.Fatalf("key %d: %s became %s", i, kv.Key, gb.KVs[i].Key)
		}
	}
	return vectors, matrices
}

// openPQ opens a PocketGGUF for the test's duration and reads its model shape.
func openPQ(t *testing.T, p string) (*gguf.File, Config) {
	t.Helper()
	g, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	c, err := ReadConfig(g)
	if err != nil {
		t.Fatal(err)
	}
	return g, c
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRunRefusesBadInput: wrong tokens, a non-PQ file and a foreign
// architecture fail with messages naming what is wrong, and write nothing.
func TestRunRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	orig, pq := tinyPQ(t, dir)
	out := filepath.Join(dir, "out.gguf")
	o := Options{Epochs: 1, LR: 1e-2, Batch: 2, Threads: 2}
	for _, c := range []struct {
		name, orig, pq string
		seqs           [][]int32
		want           string
	}{
		{"token out of range", orig, pq, [][]int32{{1, 2, 320}}, "outside the vocabulary"},
		{"no sequences", orig, pq, nil, "at least one token sequence"},
		{"short sequence", orig, pq, [][]int32{{1}}, "has 1 tokens"},
		{"not a PocketGGUF", orig, orig, randomSeqs(2, 8, 320), "no PQ tensors"},
		{"arguments swapped", pq, orig, randomSeqs(2, 8, 320), "give the original model first"},
		{"not llama", withArch(t, orig, "gpt2"), pq, randomSeqs(2, 8, 320), `architecture "gpt2": fine-tuning supports llama only`},
		{"missing file", filepath.Join(dir, "nope.gguf"), pq, randomSeqs(2, 8, 320), "nope.gguf"},
	} {
		_, err := Run(context.Background(), c.orig, c.pq, out, c.seqs, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Fatalf("%s: %s was written", c.name, out)
		}
	}
}

// withArch copies the GGUF at path with general.architecture set to arch.
func withArch(t *testing.T, path, arch string) string {
	t.Helper()
	g, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	kvs := slices.Clone(g.KVs)
	for i := range kvs {
		if kvs[i].Key == "general.architecture" {
			kvs[i].Value = gguf.Str(arch)
		}
	}
	out := filepath.Join(t.TempDir(), arch+".gguf")
	if err := gguf.Rewrite(g, out, kvs, func(int) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// A run longer than CycleEpochs repeats the shorter run's epochs exactly,
// then restarts the step size from the best epoch, so its best held-out KL
// can only be lower; on both engines, with moving indices.
func TestLongRunsRestartFromTheBest(t *testing.T) {
	dir := t.TempDir()
	orig, pq := tinyPQ(t, dir)
	seqs := randomSeqs(10, 24, 320)
	for _, engine := range []string{EngineGo, EngineGGML} {
		klOf := func(epochs int) ([]string, *Report) {
			var lines []string
			o := Options{Epochs: epochs, LR: 1e-2, Batch: 2, Threads: 1, Seed: 1, CodeLR: 3e-2, Engine: engine,
				Log: func(l string) {
					switch {
					case strings.Contains(l, "restarted"):
						lines = append(lines, l)
					case strings.Contains(l, "held-out KL") && strings.Contains(l, "epoch "):
						lines = append(lines, l[:strings.Index(l, "  [")])
					}
				}}
			rep, err := Run(context.Background(), orig, pq, filepath.Join(dir, "out.gguf"), seqs, o)
			if err != nil {
				t.Fatal(err)
			}
			return lines, rep
		}
		short, repShort := klOf(CycleEpochs)
		long, repLong := klOf(CycleEpochs + 4)
		for i := range short {
			if want := strings.Replace(short[i], fmt.Sprintf("/%d:", CycleEpochs), fmt.Sprintf("/%d:", CycleEpochs+4), 1); long[i] != want {
				t.Fatalf("%s: epoch %d of the long run %q, of the short %q", engine, i+1, long[i], short[i])
			}
		}
		// the restart is back at the best epoch: the engine holds its values again
		if want := fmt.Sprintf("step size restarted from epoch %d (held-out KL %.6f)", repShort.BestEpoch, repShort.BestKL); len(long) <= CycleEpochs || !strings.Contains(long[CycleEpochs], want) {
			t.Fatalf("%s: after epoch %d: %q, want %q", engine, CycleEpochs, long[min(CycleEpochs, len(long)-1)], want)
		}
		if repLong.BestKL > repShort.BestKL {
			t.Errorf("%s: best held-out KL %.5f after %d epochs, %.5f after %d", engine, repLong.BestKL, CycleEpochs+4, repShort.BestKL, CycleEpochs)
		}
		t.Logf("%s: best %.5f (epoch %d) after %d epochs, %.5f (epoch %d) after %d", engine, repShort.BestKL, repShort.BestEpoch, CycleEpochs,
			repLong.BestKL, repLong.BestEpoch, CycleEpochs+4)
	}
}
