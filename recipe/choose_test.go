package recipe

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/finetune"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

// Shapes of real models: stories260K and Llama-2-7B's (6.74 B weights, f16).
var (
	stories = Shape{Arch: "llama", Params: 292_800, Bytes: 1_171_200, CovFMA: 135_000, GPTQParams: 253_952}
	// GPTQ's 2 GiB of covariances hold 16 of Llama-2-7B's 4096-wide weights.
	llama7b = Shape{Arch: "llama", Params: 6_738_000_000, Bytes: 13_476_000_000, CovFMA: 16 * 4096 * 4096 / 2, GPTQParams: 16 * 4096 * 4096}
)

func req(budget time.Duration) Request { return Request{Budget: budget, Ctx: 256} }

func TestFastRunsOnlyPinnedSteps(t *testing.T) {
	p := Choose(stories, req(0))
	if p.Calibrated() || p.GPTQ || p.Epochs != 0 {
		t.Fatalf("--fast alone: %+v, want a plain conversion", p)
	}
	// --fast --finetune is what --finetune always did: self-calibration of
	// 100 chunks, GPTQ, 10 epochs.
	r := req(0)
	r.Finetune = On
	p = Choose(stories, r)
	if p.Source != SourceSelf || !p.GPTQ || p.Chunks != calib.DefaultChunks || p.Epochs != finetune.DefaultOptions().Epochs {
		t.Fatalf("--fast --finetune: %+v", p)
	}
	r = req(0)
	r.Source, r.TextPath, r.GPTQ = SourceText, "t.txt", Off
	if p = Choose(stories, r); p.Source != SourceText || p.GPTQ || p.Epochs != 0 {
		t.Fatalf("--fast --calib-text --gptq=false: %+v", p)
	}
}

func TestBudgetBuysTheFullRecipeOnASmallModel(t *testing.T) {
	p := Choose(stories, req(DefaultBudget))
	if p.Source != SourceSelf || !p.GPTQ || p.Chunks != calib.DefaultChunks || p.Epochs != MaxEpochs {
		t.Fatalf("stories260K under the default budget: %+v, want self-calibration, GPTQ, %d epochs", p, MaxEpochs)
	}
	if p.Est.Total() > DefaultBudget || len(p.Notes) != 0 {
		t.Fatalf("estimate %s, notes %q", p.Est.Total(), p.Notes)
	}
	if s := p.String(); !strings.Contains(s, "fine-tuning 30 epochs") || !strings.Contains(s, "self-calibration 100 × 256") {
		t.Fatalf("plan text %q", s)
	}
}

// As the budget shrinks, steps go in order: epochs, fine-tuning, chunks,
// GPTQ, calibration; a plan that is not the lightest always fits.
func TestSmallerBudgetsDropStepsInOrder(t *testing.T) {
	prev := Choose(stories, req(time.Hour))
	for _, b := range []time.Duration{10 * time.Minute, 3 * time.Minute, time.Minute, 20 * time.Second, 8 * time.Second, 4 * time.Second, 2 * time.Second, time.Second} {
		p := Choose(stories, req(b))
		if p.Est.Total() > prev.Est.Total() {
			t.Fatalf("budget %s: estimate %s grew from %s", b, p.Est.Total(), prev.Est.Total())
		}
		if p.Calibrated() && p.Est.Total() > b {
			t.Fatalf("budget %s: calibrated plan over budget: %s", b, p)
		}
		if p.Epochs > prev.Epochs || p.Chunks > prev.Chunks && p.Calibrated() || p.GPTQ && !prev.GPTQ {
			t.Fatalf("budget %s: %s\nafter %s", b, p, prev)
		}
		if p.Epochs < MaxEpochs && len(p.Notes) == 0 {
			t.Fatalf("budget %s: a step was dropped without a note: %s", b, p)
		}
		prev = p
	}
	if prev.Calibrated() {
		t.Fatalf("1 s is not enough for any calibration: %s", prev)
	}
}

func TestPinnedStepsStay(t *testing.T) {
	r := req(DefaultBudget)
	r.GPTQ, r.Finetune = Off, Off
	if p := Choose(stories, r); p.GPTQ || p.Epochs != 0 || !p.Calibrated() {
		t.Fatalf("--gptq=false --finetune=false: %s", p)
	}
	r = req(DefaultBudget)
	r.Epochs, r.Chunks = 3, 20
	if p := Choose(stories, r); p.Epochs != 3 || p.Chunks != 20 {
		t.Fatalf("--finetune-epochs 3 --calib-chunks 20: %s", p)
	}
	// Pinned fine-tuning runs even when no epoch fits the budget.
	r = req(time.Second)
	r.Finetune = On
	if p := Choose(stories, r); p.Epochs < 1 || !strings.Contains(strings.Join(p.Notes, "\n"), "over --time-budget") {
		t.Fatalf("--finetune over budget: %s", p)
	}
	// --imatrix alone brings its statistics: nothing is collected.
	r = req(DefaultBudget)
	r.Imatrix = true
	if p := Choose(stories, r); p.Calibrated() {
		t.Fatalf("--imatrix: %s", p)
	}
}

func TestNoFinetuningForOtherArchitectures(t *testing.T) {
	s := stories
	s.Arch, s.Finetune = "gemma", errors.New(`architecture "gemma": fine-tuning supports llama only`)
	p := Choose(s, req(DefaultBudget))
	if p.Epochs != 0 || !p.Calibrated() || !strings.Contains(p.String(), "llama only") {
		t.Fatalf("gemma: %s", p)
	}
}

// A 7B model's conversion alone is estimated past the default budget: the
// plan is the plain conversion, and it says so.
func TestLargeModelGetsPlainConversionAndAReason(t *testing.T) {
	p := Choose(llama7b, req(DefaultBudget))
	if p.Calibrated() || p.Epochs != 0 {
		t.Fatalf("7B in 15 min: %s", p)
	}
	if !strings.Contains(p.String(), "self-calibration: does not fit") {
		t.Fatalf("7B plan does not say why: %s", p)
	}
	if p = Choose(llama7b, req(12*time.Hour)); !p.Calibrated() {
		t.Fatalf("7B in 12 h: %s", p)
	}
}

// ShapeOf on real files: the parameter count is the tensors', the
// covariance work follows --gptq-max-cols and the memory cap.
func TestShapeOfFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.gguf")
	if err := testmodels.Generate(path, testmodels.Presets["tiny"]); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var params int64
	for i := range g.Tensors {
		params += int64(g.Tensors[i].Elements())
	}
	s := ShapeOf(g, 4096)
	if s.Params != params || s.Bytes < params*4 || s.Finetune != nil || s.CovFMA == 0 {
		t.Fatalf("tiny: %+v (params %d)", s, params)
	}
	if n := ShapeOf(g, 1); n.CovFMA != 0 {
		t.Fatalf("--gptq-max-cols 1: CovFMA %d", n.CovFMA)
	}
	if n := shapeOf(g, 4096, 8*64*64); n.CovFMA != 64*64/2 {
		t.Fatalf("room for one 64-wide covariance: CovFMA %d", n.CovFMA)
	}
}

// What the default budget buys on models from stories260K to 7B: logged
// for docs/CONVERT.md (go test ./recipe -run DefaultBudgetBuys -v).
func TestDefaultBudgetBuys(t *testing.T) {
	small := Shape{Arch: "llama", Params: 4_194_560, Bytes: 7_340_000, CovFMA: 4 * (6*256*256/2 + 768*768/2), GPTQParams: 4 * 7 * 256 * 768}
	tinyLlama := Shape{Arch: "llama", Params: 1_100_048_384, Bytes: 2_200_096_768, CovFMA: 64 * 2048 * 2048 / 2, GPTQParams: 64 * 2048 * 2048}
	for _, c := range []struct {
		name  string
		s     Shape
		tuned bool
	}{{"stories260K", stories, true}, {"small", small, true}, {"1B", tinyLlama, false}, {"7B", llama7b, false}} {
		p := Choose(c.s, req(DefaultBudget))
		t.Logf("%s: %s", c.name, p)
		if (p.Epochs == MaxEpochs) != c.tuned {
			t.Errorf("%s: %d epochs", c.name, p.Epochs)
		}
		for _, b := range []time.Duration{4 * time.Hour, 12 * time.Hour} {
			t.Logf("%s in %s: %s", c.name, b, Choose(c.s, req(b)))
		}
	}
}

// --calib-text FILE --calib-chunks 0 calibrates on all of the file, with or
// without a budget, and the plan says so.
func TestAllOfTheText(t *testing.T) {
	for _, b := range []time.Duration{0, DefaultBudget} {
		r := req(b)
		r.Source, r.TextPath, r.AllText = SourceText, "t.txt", true
		p := Choose(stories, r)
		if p.Source != SourceText || p.Chunks != 0 || p.Est.Collect <= 0 || !strings.Contains(p.String(), "calibration on t.txt, all of it") {
			t.Fatalf("budget %s: %s", b, p)
		}
	}
}

// Fine-tuning a model whose moving indices would not fit the reference
// machine keeps them fixed, says so, and the flag overrides either way; the
// Job passes it on as --finetune-code-lr 0.
func TestLargeModelsFineTuneWithFixedIndices(t *testing.T) {
	r := req(12 * time.Hour)
	r.Finetune = On
	p := Choose(llama7b, r)
	if p.Epochs == 0 || !p.FixedIndices || !strings.Contains(p.String(), "indices fixed") ||
		!strings.Contains(strings.Join(p.Notes, "\n"), "--finetune-code-lr moves them anyway") {
		t.Fatalf("7B fine-tuned: %s", p)
	}
	r.MoveIndices = On
	if p := Choose(llama7b, r); p.FixedIndices || strings.Contains(p.String(), "indices fixed") {
		t.Fatalf("7B with --finetune-code-lr 0.01: %s", p)
	}
	if p := Choose(stories, req(DefaultBudget)); p.Epochs == 0 || p.FixedIndices {
		t.Fatalf("stories260K: %s", p)
	}
	r = req(DefaultBudget)
	r.MoveIndices = Off
	if p := Choose(stories, r); !p.FixedIndices || len(p.Notes) != 0 {
		t.Fatalf("stories260K with --finetune-code-lr 0: %s", p)
	}
	// --fast --finetune decides the same way.
	r = req(0)
	r.Finetune = On
	if p := Choose(llama7b, r); !p.FixedIndices || len(p.Notes) != 1 {
		t.Fatalf("--fast --finetune on 7B: %s", p)
	}
	// The boundary: 8 GiB of moving state is 512 Mi weights.
	s := stories
	s.Params = MoveIndicesBudget / moveBytesPerWeight
	if fixed, _ := s.FixedIndices(Auto); fixed {
		t.Fatal("512 Mi weights: indices fixed")
	}
	s.Params++
	if fixed, _ := s.FixedIndices(Auto); !fixed {
		t.Fatal("512 Mi + 1 weights: indices move")
	}
}
