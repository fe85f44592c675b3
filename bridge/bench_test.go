package bridge

import (
	"context"
	"testing"
)

// go test -run - -bench . ./bridge
// Reports generated tokens/s (greedy, 1 thread) and prompt tokens/s.

func BenchmarkGenerate(b *testing.B) {
	m := loadStories(b)
	c := newCtx(b, m, ContextParams{NCtx: 256})
	n := 0
	for b.Loop() {
		res, err := c.Generate(context.Background(), "", GenerateOptions{NPredict: 128}, func(string) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		n += res.Tokens
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkDecodeAllLogits(b *testing.B) {
	for _, fa := range []string{"on", "off"} {
		b.Run("flash-attn-"+fa, func(b *testing.B) { benchDecodeAll(b, fa) })
	}
}

func benchDecodeAll(b *testing.B, flashAttn string) {
	m := loadStories(b)
	c := newCtx(b, m, ContextParams{NCtx: 256, NBatch: 256, FlashAttn: flashAttn})
	toks := make([]Token, 256)
	for i := range toks {
		toks[i] = Token(1 + i%(m.Info().NVocab-1))
	}
	n := 0
	for b.Loop() {
		c.ClearMemory()
		if _, err := c.Decode(toks, true); err != nil {
			b.Fatal(err)
		}
		n += len(toks)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
}
