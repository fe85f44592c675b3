package bridge

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// job is one generation: a prompt and sampler, run alone and then again
// while other goroutines generate; the text must not change.
type job struct {
	model  *Model
	prompt string
	seed   uint32 // 0: greedy
}

func (j job) run(n int) (string, error) {
	c, err := j.model.NewContext(ContextParams{NCtx: 128, Threads: 1})
	if err != nil {
		return "", err
	}
	defer c.Close()
	opt := GenerateOptions{NPredict: n}
	if j.seed != 0 {
		opt.Sampler = SamplerParams{Temp: 0.9, TopK: 40, TopP: 0.95, Seed: j.seed}
	}
	var sb strings.Builder
	res, err := c.Generate(context.Background(), j.prompt, opt, func(p string) error {
		sb.WriteString(p)
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d tokens (%s): %s", res.Tokens, res.Stop, sb.String()), nil
}

// concurrently runs every job at once (each in its own goroutine and
// context, rounds times over) and checks each against its text alone.
func concurrently(t *testing.T, jobs []job, alone []string, rounds, n int) {
	t.Helper()
	for r := 0; r < rounds; r++ {
		got := make([]string, len(jobs))
		errs := make([]error, len(jobs))
		var wg sync.WaitGroup
		for i, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = j.run(n)
			}()
		}
		wg.Wait()
		for i := range jobs {
			if errs[i] != nil {
				t.Fatalf("round %d, job %d: %v", r, i, errs[i])
			}
			if got[i] != alone[i] {
				t.Fatalf("round %d, job %d (%q, seed %d) concurrently:\n%s\nalone:\n%s", r, i, jobs[i].prompt, jobs[i].seed, got[i], alone[i])
			}
		}
	}
}

func runAlone(t *testing.T, jobs []job, n int) []string {
	t.Helper()
	out := make([]string, len(jobs))
	for i, j := range jobs {
		s, err := j.run(n)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

// TestConcurrentLoad8Generations: 8 generations at once on one model
// (greedy and sampled, different prompts), three rounds, give the texts
// each gives alone.
func TestConcurrentLoad8Generations(t *testing.T) {
	m := loadStories(t)
	prompts := []string{"", "Once upon a time", "The little dog", "Lily and Ben"}
	var jobs []job
	for i := 0; i < 8; i++ {
		jobs = append(jobs, job{model: m, prompt: prompts[i%len(prompts)], seed: uint32(i / 2 * 7)})
	}
	alone := runAlone(t, jobs, 32)
	concurrently(t, jobs, alone, 3, 32)
	t.Logf("8 concurrent generations × 3 rounds on one model: identical to alone; e.g. %q", alone[1])
}

// TestConcurrentLoadTwoModels: stories260K and its PocketGGUF (run by the
// patched kernels; its unpacked F32 twin when the linked libllama has no
// PQ types) in one process, four generations on each at once, give the
// texts each gives alone.
func TestConcurrentLoadTwoModels(t *testing.T) {
	a := loadStories(t)
	dir := t.TempDir()
	pq := filepath.Join(dir, "stories.pq.gguf")
	if _, err := converter.Convert(context.Background(), storiesPath(t), pq, converter.Options{Method: "kmeans", Seed: 1, Epochs: 4, CodebookSize: 64}); err != nil {
		t.Fatal(err)
	}
	b, err := LoadModel(pq, ModelParams{UseMmap: true})
	what := "its PocketGGUF (PQ kernels)"
	if err != nil {
		t.Logf("this libllama does not load PocketGGUF (%v); using the unpacked twin", err)
		twin := filepath.Join(dir, "stories.unpacked.gguf")
		if err := converter.Unpack(context.Background(), pq, twin, gguf.TypeF32, nil); err != nil {
			t.Fatal(err)
		}
		if b, err = LoadModel(twin, ModelParams{}); err != nil {
			t.Fatal(err)
		}
		what = "its unpacked PocketGGUF twin"
	}
	defer b.Close()
	var jobs []job
	for i := 0; i < 8; i++ {
		m := a
		if i%2 == 1 {
			m = b
		}
		jobs = append(jobs, job{model: m, prompt: []string{"", "Once upon a time"}[i/2%2], seed: uint32(i / 4 * 3)})
	}
	alone := runAlone(t, jobs, 32)
	if alone[0] == alone[1] {
		t.Logf("note: both models gave the same greedy text")
	}
	concurrently(t, jobs, alone, 2, 32)
	t.Logf("stories260K and %s, 4+4 concurrent generations × 2 rounds: identical to alone; greedy: %q vs %q", what, alone[0], alone[1])
}
