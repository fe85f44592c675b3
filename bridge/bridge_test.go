package bridge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// stories260K: a real llama (dim 64, 5 layers, vocab 512, F32) in the shared test data.
func storiesPath(t testing.TB) string {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "testdata", "models", "stories260K.gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("test model absent (%v)", err)
	}
	return p
}

func loadStories(t testing.TB) *Model {
	t.Helper()
	m, err := LoadModel(storiesPath(t), ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func newCtx(t testing.TB, m *Model, p ContextParams) *Context {
	t.Helper()
	if p.Threads == 0 {
		p.Threads = 1
	}
	c, err := m.NewContext(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// greedy generates n tokens from BOS and returns the text.
func greedy(t testing.TB, c *Context, n int) string {
	t.Helper()
	s, err := greedyErr(c, n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// greedyErr is greedy for goroutines other than the test's.
func greedyErr(c *Context, n int) (string, error) {
	var sb strings.Builder
	res, err := c.Generate(context.Background(), "", GenerateOptions{NPredict: n}, func(p string) error {
		sb.WriteString(p)
		return nil
	})
	if err != nil {
		return "", err
	}
	if res.Tokens != n || res.Stop != StopLength {
		return "", fmt.Errorf("generated %d tokens (stop %s), want %d", res.Tokens, res.Stop, n)
	}
	return sb.String(), nil
}

func TestModelInfo(t *testing.T) {
	m := loadStories(t)
	info := m.Info()
	if info.Arch != "llama" || info.NVocab != 512 || info.NEmbd != 64 || info.NLayer != 5 {
		t.Fatalf("info = %+v", info)
	}
	if info.NParams == 0 || info.Size == 0 || info.NCtxTrain <= 0 || info.Description == "" {
		t.Fatalf("info has zero fields: %+v", info)
	}
	// F32: 4 bytes per parameter.
	if info.Size != 4*info.NParams {
		t.Fatalf("size %d != 4 × %d params", info.Size, info.NParams)
	}
}

func TestTokenizeRoundTrip(t *testing.T) {
	m := loadStories(t)
	text := "Once upon a time, there was a little girl named Lily. She liked to play outside!"
	toks, err := m.Tokenize(text, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) < 10 || toks[0] != m.BOS() {
		t.Fatalf("tokens %v: want BOS first and more than 10", toks)
	}
	back, err := m.Detokenize(toks, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimPrefix(back, " ") != text {
		t.Fatalf("round trip: %q != %q", back, text)
	}
	// Piece by piece gives the same text.
	var sb strings.Builder
	for _, tk := range toks[1:] {
		p, err := m.TokenToPiece(tk, false)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(p)
	}
	if strings.TrimPrefix(sb.String(), " ") != text {
		t.Fatalf("pieces: %q", sb.String())
	}
	if _, err := m.Detokenize([]Token{1, 9999}, false, false); err == nil {
		t.Fatal("out-of-vocabulary token accepted")
	}
}

func TestGreedyFromBOS(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 128})
	got := greedy(t, c, 12)
	if !strings.HasPrefix(strings.TrimSpace(got), "Once upon a time") {
		t.Fatalf("greedy from BOS: %q", got)
	}
	// Same input, same output: the context is cleared between calls.
	if again := greedy(t, c, 12); again != got {
		t.Fatalf("second run %q != first %q", again, got)
	}
}

func TestDecodeAllLogits(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 64, NBatch: 8}) // forces pieces of 8
	toks, _ := m.Tokenize("Once upon a time, there was a little girl named Lily.", true, false)
	all, err := c.Decode(toks, true)
	if err != nil {
		t.Fatal(err)
	}
	nv := m.Info().NVocab
	if len(all) != len(toks)*nv {
		t.Fatalf("got %d logits, want %d", len(all), len(toks)*nv)
	}
	// Row i equals the last-token logits of decoding tokens[:i+1] alone.
	for _, i := range []int{0, 7, len(toks) - 1} {
		c.ClearMemory()
		last, err := c.Decode(toks[:i+1], false)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < nv; j++ {
			if d := math.Abs(float64(last[j] - all[i*nv+j])); d > 1e-4 {
				t.Fatalf("position %d logit %d: %v vs %v", i, j, last[j], all[i*nv+j])
			}
		}
	}
	if _, err := c.Decode(make([]Token, c.NCtx()), false); !errors.Is(err, ErrContextFull) {
		t.Fatalf("overlong decode: %v", err)
	}
}

func TestConcurrentContextsAndModels(t *testing.T) {
	m1 := loadStories(t)
	alone := greedy(t, newCtx(t, m1, ContextParams{NCtx: 128}), 24)

	m2, err := LoadModel(storiesPath(t), ModelParams{UseMmap: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	ctxs := []*Context{
		newCtx(t, m1, ContextParams{NCtx: 128}),
		newCtx(t, m1, ContextParams{NCtx: 128}),
		newCtx(t, m2, ContextParams{NCtx: 128}),
		newCtx(t, m2, ContextParams{NCtx: 128}),
	}
	out := make([]string, len(ctxs))
	errs := make([]error, len(ctxs))
	var wg sync.WaitGroup
	for i, c := range ctxs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = greedyErr(c, 24)
		}()
	}
	wg.Wait()
	for i, s := range out {
		if errs[i] != nil {
			t.Fatalf("context %d: %v", i, errs[i])
		}
		if s != alone {
			t.Errorf("context %d: %q, alone: %q", i, s, alone)
		}
	}
}

func TestCancellation(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 256})
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	res, err := c.Generate(ctx, "", GenerateOptions{Sampler: SamplerParams{Temp: 0.8, Seed: 1}}, func(string) error {
		n++
		if n == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n != 5 || res.Tokens != 5 {
		t.Fatalf("%d pieces / %d tokens after cancelling at 5", n, res.Tokens)
	}
	// An error from the callback stops generation and is returned.
	stop := errors.New("enough")
	_, err = c.Generate(context.Background(), "", GenerateOptions{}, func(string) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("callback error: %v", err)
	}
	// The context still works afterwards.
	if got := greedy(t, c, 4); !strings.HasPrefix(strings.TrimSpace(got), "Once upon") {
		t.Fatalf("after cancel: %q", got)
	}
}

func TestSeedDeterminism(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 128})
	run := func(seed uint32) string {
		var sb strings.Builder
		_, err := c.Generate(context.Background(), "Once", GenerateOptions{NPredict: 30,
			Sampler: SamplerParams{Temp: 1.0, TopK: 40, TopP: 0.95, Seed: seed}}, func(p string) error {
			sb.WriteString(p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return sb.String()
	}
	a, b, other := run(7), run(7), run(8)
	if a != b {
		t.Fatalf("same seed, different text: %q / %q", a, b)
	}
	if a == other {
		t.Fatalf("seeds 7 and 8 gave the same 30 tokens: %q", a)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadModel(filepath.Join(dir, "missing.gguf"), ModelParams{}); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Fatalf("missing file: %v", err)
	}
	garbage := filepath.Join(dir, "garbage.gguf")
	os.WriteFile(garbage, []byte("this is not a gguf file at all, just text"), 0o644)
	if _, err := LoadModel(garbage, ModelParams{}); err == nil || !strings.Contains(err.Error(), "garbage.gguf") {
		t.Fatalf("garbage file: %v", err)
	}
	// A real model cut in half: header fine, tensor data missing.
	data, err := os.ReadFile(storiesPath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(data) / 2, 100} {
		cut := filepath.Join(dir, "cut.gguf")
		os.WriteFile(cut, data[:n], 0o644)
		if _, err := LoadModel(cut, ModelParams{}); err == nil {
			t.Fatalf("truncated to %d bytes: loaded", n)
		} else {
			t.Logf("truncated to %d bytes: %v", n, err)
		}
	}
}

func TestBadTableBitsRefused(t *testing.T) {
	for _, v := range []string{"12", "16 ", "fast"} {
		t.Setenv(TableBitsEnv, v)
		_, err := LoadModel(storiesPath(t), ModelParams{})
		if err == nil || !strings.Contains(err.Error(), TableBitsEnv) || !strings.Contains(err.Error(), "want 8") {
			t.Fatalf("%s=%q: %v", TableBitsEnv, v, err)
		}
	}
	for _, v := range []string{"", "8", "16"} {
		t.Setenv(TableBitsEnv, v)
		m, err := LoadModel(storiesPath(t), ModelParams{})
		if err != nil {
			t.Fatalf("%s=%q: %v", TableBitsEnv, v, err)
		}
		m.Close()
	}
}

func TestClosed(t *testing.T) {
	m, err := LoadModel(storiesPath(t), ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.NewContext(ContextParams{NCtx: 32, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	m.Close() // closes c too
	if _, err := c.Decode([]Token{1}, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("decode after model close: %v", err)
	}
	if _, err := m.Tokenize("x", true, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("tokenize after close: %v", err)
	}
	c.Close()
	m.Close()
}

func TestCompleteUTF8(t *testing.T) {
	euro := []byte("€") // 3 bytes
	for _, tc := range []struct {
		in, out, rest string
	}{
		{"abc", "abc", ""},
		{"a" + string(euro[:1]), "a", string(euro[:1])},
		{"a" + string(euro[:2]), "a", string(euro[:2])},
		{"a€", "a€", ""},
		{"\xff\xfe", "\xff\xfe", ""}, // invalid bytes pass through
	} {
		b := []byte(tc.in)
		if got := completeUTF8(&b); got != tc.out || string(b) != tc.rest {
			t.Errorf("%q: got %q rest %q, want %q rest %q", tc.in, got, b, tc.out, tc.rest)
		}
	}
}

// The abort flag that a cancelled Generate raises stops llama_decode itself.
func TestAbortFlagStopsDecode(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 128})
	toks, _ := m.Tokenize("Once upon a time, there was a little girl", true, false)
	c.h.mu.Lock()
	c.h.setAbort(true)
	_, err := c.h.decode(toks, lastLogits)
	c.h.setAbort(false)
	c.h.mu.Unlock()
	if !errors.Is(err, errAborted) {
		t.Fatalf("decode with the abort flag up: %v", err)
	}
	c.ClearMemory()
	if _, err := c.Decode(toks, false); err != nil {
		t.Fatalf("decode after abort: %v", err)
	}
}

func TestEmbeddings(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 64, Embeddings: true})
	toks, _ := m.Tokenize("Once upon a time", true, false)
	if _, err := c.Decode(toks, false); err != nil {
		t.Fatal(err)
	}
	e, err := c.Embeddings()
	if err != nil {
		t.Fatal(err)
	}
	if len(e) != m.Info().NEmbd {
		t.Fatalf("%d values, want %d", len(e), m.Info().NEmbd)
	}
	norm := 0.0
	for _, v := range e {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("embedding has %v", v)
		}
		norm += float64(v) * float64(v)
	}
	if norm == 0 {
		t.Fatal("zero embedding")
	}
	plain := newCtx(t, m, ContextParams{NCtx: 64})
	if _, err := plain.Embeddings(); err == nil {
		t.Fatal("embeddings from a context created without them")
	}
}

// Contexts and models nobody closed are freed by their cleanups.
func TestCleanupsFreeUnclosed(t *testing.T) {
	m := loadStories(t)
	for i := 0; i < 3; i++ {
		if _, err := m.NewContext(ContextParams{NCtx: 32, Threads: 1}); err != nil {
			t.Fatal(err)
		}
	}
	live := func() int {
		m.h.mu.RLock()
		defer m.h.mu.RUnlock()
		return len(m.h.contexts)
	}
	for i := 0; i < 20 && live() > 0; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := live(); n != 0 {
		t.Fatalf("%d unreachable contexts still allocated", n)
	}
	h := func() *modelHandle {
		m2, err := LoadModel(storiesPath(t), ModelParams{})
		if err != nil {
			t.Fatal(err)
		}
		return m2.h
	}()
	freed := func() bool {
		h.mu.RLock()
		defer h.mu.RUnlock()
		return h.c == nil
	}
	for i := 0; i < 20 && !freed(); i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if !freed() {
		t.Fatal("unreachable model still allocated")
	}
}
