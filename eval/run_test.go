package eval

import (
	"strings"
	"testing"
)

func TestChunkingReplacesFirstTokenByBOS(t *testing.T) {
	text := synthText(1000) // 1001 tokens with the BOS
	src := &synth{nv: 50, scale: 1}
	b, err := ComputeBase(src, text, Options{NCtx: 100, Chunks: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.NChunk != 4 || len(src.calls) != 4 || b.PerChunk() != 49 {
		t.Fatalf("chunks %d, calls %d, per chunk %d", b.NChunk, len(src.calls), b.PerChunk())
	}
	all, _ := src.Tokenize(text)
	for c, call := range src.calls {
		if call[0] != 1 {
			t.Errorf("chunk %d starts with %d, not BOS", c, call[0])
		}
		for i := 1; i < 100; i++ {
			if call[i] != all[c*100+i] {
				t.Fatalf("chunk %d token %d = %d, want %d", c, i, call[i], all[c*100+i])
			}
		}
	}
	b2, _ := ComputeBase(&synth{nv: 50, scale: 1}, text, Options{NCtx: 100})
	if b2.NChunk != 10 {
		t.Errorf("all chunks: %d, want 1001/100 = 10", b2.NChunk)
	}
}

func TestErrors(t *testing.T) {
	if _, err := ComputeBase(&synth{nv: 50}, synthText(100), Options{NCtx: 64}); err == nil || !strings.Contains(err.Error(), "at least 128 tokens") {
		t.Errorf("short text: %v", err)
	}
	b, err := ComputeBase(&synth{nv: 50, scale: 1}, synthText(500), Options{NCtx: 64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Compare(&synth{nv: 51}, Options{}); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Errorf("vocab mismatch: %v", err)
	}
	if _, err := b.Compare(&synth{nv: 50, corrupt: true}, Options{}); err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Errorf("NaN logits: %v", err)
	}
}
