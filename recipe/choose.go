package recipe

import (
	"fmt"

	"strings"
	"time"

	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/finetune"
)

// Source is where calibration text comes from.
type Source int

const (
	SourceAuto Source = iota // the budget decides (self-sampled when it runs)
	SourceNone               // no calibration
	SourceSelf               // sampled from the input model (--calib-self)
	SourceText               // the user's file (--calib-text)
)

func (s Source) String() string {
	return [...]string{"auto", "none", "self", "text"}[s]
}

// Toggle is a step a flag may pin on or off; Auto leaves it to the budget.
type Toggle int

const (
	Auto Toggle = iota
	On
	Off
)

// ToggleOf is On or Off for a flag that was set, Auto for one that was not.
func ToggleOf(set, value bool) Toggle {
	switch {
	case !set:
		return Auto
	case value:
		return On
	}
	return Off
}

// Request is what the flags say: a budget and the steps they pin.
type Request struct {
	// Budget bounds the estimated time of the steps the flags leave open;
	// 0 runs none of them (--fast: a plain conversion plus pinned steps).
	Budget   time.Duration
	Source   Source
	TextPath string // with SourceText
	Chunks   int    // calibration chunks; 0: the budget's choice
	// AllText calibrates on every chunk of the --calib-text file
	// (--calib-chunks 0); Plan.Chunks is then 0.
	AllText  bool
	Ctx      int // tokens per chunk
	GPTQ     Toggle
	Finetune Toggle
	Epochs   int // fine-tuning epochs; 0: the budget's choice
	// MoveIndices is --finetune-code-lr when set (On above 0, Off at 0);
	// Auto moves them when the model is small enough (Shape.FixedIndices).
	MoveIndices Toggle
	// Imatrix is set when --imatrix gives the importance weights: then no
	// calibration text is collected unless fine-tuning needs one.
	Imatrix bool
}

// Plan is the recipe Choose picked.
type Plan struct {
	Source   Source // SourceNone, SourceSelf or SourceText
	TextPath string
	Chunks   int // 0: all of the --calib-text file
	Ctx      int
	GPTQ     bool
	Epochs   int // 0: no fine-tuning
	// FixedIndices: fine-tuning tunes tables, scales and norms and keeps
	// every index (--finetune-code-lr 0).
	FixedIndices bool
	Est          Estimate
	Budget       time.Duration
	// Notes say why a step the budget could have run did not.
	Notes []string
}

// Calibrated reports whether the plan collects statistics over text.
func (p Plan) Calibrated() bool { return p.Source != SourceNone }

// Limits of the budget's choices.
const (
	// MaxEpochs: fine-tuning gains the most of any step, and keeps gaining
	// past the 10 epochs of --finetune's default (stories260K, --calib-self
	// 100 × 256: 30 epochs instead of 10 took mean KLD 2.24 → 1.66 at 2 bpw,
	// 1.49 → 1.14 at 2.5, 0.72 → 0.61 at 3; docs/QUALITY.md); the held-out
	// split keeps the best epoch. Not more: 83 epochs (what the default
	// budget buys there; finetune runs them as cycles of 30) took 2.5 bpw to
	// 0.97 and 4 bpw 0.245 → 0.216 on the model's kind of text, but made
	// 2.5 bpw 18 % worse on other text (wiki 1.75 → 2.06): the longer run
	// fits the model's own samples, which are all the recipe calibrates on.
	MaxEpochs = 30

	// MoveIndicesBudget bounds what moving indices may hold: per weight an
	// f32 shadow and Adam's two moments in Go and the rebuilt weight's f32
	// gradient in the trainer, moveBytesPerWeight in all (docs/bench/
	// converter.md). A 1B model would need 16 GB and a 7B 105 GB; with the
	// indices fixed fine-tuning needs none of it, and still tunes every
	// table, scale and norm.
	MoveIndicesBudget  = 8 << 30
	moveBytesPerWeight = 16
)

// FixedIndices reports whether fine-tuning this model keeps its indices:
// as the flag says when it is set, else when moving them would hold more
// than MoveIndicesBudget; why is the plan's note then.
func (s Shape) FixedIndices(t Toggle) (fixed bool, why string) {
	switch t {
	case On:
		return false, ""
	case Off:
		return true, ""
	}
	need := moveBytesPerWeight * s.Params
	if need <= MoveIndicesBudget {
		return false, ""
	}
	return true, fmt.Sprintf("fine-tuning: indices fixed: moving them holds %d bytes per weight, %.1f GiB here, over %d GiB (--finetune-code-lr moves them anyway)",
		moveBytesPerWeight, float64(need)/(1<<30), MoveIndicesBudget>>30)
}

// fewerChunks are the calibration sizes tried, largest first (the default
// is what the quality figures used), when the default does not fit: GPTQ and importance weights still help at 16
// chunks, and fine-tuning needs held-out chunks beside its training ones.
var fewerChunks = []int{calib.DefaultChunks, 64, 32, 16}

// Choose picks the strongest plan whose estimate fits r.Budget, keeping every
// step the flags pinned. In strength order: calibration with GPTQ and as
// many fine-tuning epochs as fit (up to MaxEpochs); without fine-tuning;
// fewer calibration chunks; importance weights without GPTQ; nothing. When
// nothing fits, the lightest plan that does what the flags pin.
func Choose(s Shape, r Request) Plan {
	if r.Budget <= 0 {
		return fixed(s, r)
	}
	var notes []string
	if s.Finetune != nil && r.Finetune == Auto {
		notes = append(notes, fmt.Sprintf("fine-tuning: not for this model (%v)", s.Finetune))
	}
	cands := candidates(s, r)
	pick := cands[len(cands)-1]
	for _, p := range cands {
		if p.Est.Total() <= r.Budget {
			pick = p
			break
		}
	}
	pick.Notes = append(notes, dropped(pick, r)...)
	if pick.Epochs > 0 {
		if _, why := s.FixedIndices(r.MoveIndices); why != "" {
			pick.Notes = append(pick.Notes, why)
		}
	}
	return pick
}

// candidates lists the plans the pins allow, strongest first.
func candidates(s Shape, r Request) []Plan {
	chunkChoices := fewerChunks
	switch {
	case r.AllText:
		chunkChoices = []int{0}
	case r.Chunks > 0:
		chunkChoices = []int{r.Chunks}
	}
	var out []Plan
	if src := calibSource(r); src != SourceNone {
		for _, gptq := range toggles(r.GPTQ) {
			for _, chunks := range chunkChoices {
				for _, tune := range toggles(r.Finetune) {
					if tune && s.Finetune != nil && r.Finetune == Auto {
						continue
					}
					p := Plan{Source: src, TextPath: r.TextPath, Chunks: chunks, Ctx: r.Ctx, GPTQ: gptq, Budget: r.Budget}
					if tune {
						if p.Epochs = r.Epochs; p.Epochs == 0 {
							p.Epochs = max(1, s.epochsWithin(p, r.Budget))
						}
						p.FixedIndices, _ = s.FixedIndices(r.MoveIndices)
					}
					p.Est = s.estimate(p)
					out = append(out, p)
				}
			}
		}
	}
	if r.Source == SourceAuto && r.Finetune != On || len(out) == 0 {
		p := Plan{Source: SourceNone, Ctx: r.Ctx, Budget: r.Budget}
		p.Est = s.estimate(p)
		out = append(out, p)
	}
	return out
}

// fixed is the plan without a budget: exactly what the flags say, with
// today's defaults for what they leave open (--fast).
func fixed(s Shape, r Request) Plan {
	p := Plan{Source: r.Source, TextPath: r.TextPath, Chunks: r.Chunks, Ctx: r.Ctx}
	if p.Source == SourceAuto {
		p.Source = SourceNone
		if r.Finetune == On && !r.Imatrix {
			p.Source = SourceSelf // fine-tuning needs text: sample it
		}
	}
	if p.Chunks == 0 && !r.AllText {
		p.Chunks = calib.DefaultChunks
	}
	p.GPTQ = p.Calibrated() && r.GPTQ != Off
	if r.Finetune == On {
		p.Epochs = r.Epochs
		if p.Epochs == 0 {
			p.Epochs = finetune.DefaultOptions().Epochs // --fast --finetune: what --finetune always ran
		}
		var why string
		if p.FixedIndices, why = s.FixedIndices(r.MoveIndices); why != "" {
			p.Notes = append(p.Notes, why)
		}
	}
	p.Est = s.estimate(p)
	return p
}

// toggles lists the values a step may take, the stronger first.
func toggles(t Toggle) []bool {
	switch t {
	case On:
		return []bool{true}
	case Off:
		return []bool{false}
	}
	return []bool{true, false}
}

// calibSource is the source a budgeted plan calibrates on: the flag's, or
// text sampled from the model. --imatrix alone brings its own statistics.
func calibSource(r Request) Source {
	switch {
	case r.Source != SourceAuto:
		return r.Source
	case r.Imatrix && r.Finetune != On:
		return SourceNone
	}
	return SourceSelf
}

// dropped explains the steps a budgeted plan left out that no flag pinned.
func dropped(p Plan, r Request) []string {
	var out []string
	over := fmt.Sprintf("does not fit --time-budget %s", fmtDuration(r.Budget))
	if r.Source == SourceAuto && !p.Calibrated() && !r.Imatrix {
		out = append(out, "self-calibration: "+over)
	}
	if p.Calibrated() && r.GPTQ == Auto && !p.GPTQ {
		out = append(out, "GPTQ: "+over)
	}
	if p.Calibrated() && r.Chunks == 0 && !r.AllText && p.Chunks < calib.DefaultChunks {
		out = append(out, fmt.Sprintf("calibration: %d chunks, fewer than %d, to fit --time-budget %s", p.Chunks, calib.DefaultChunks, fmtDuration(r.Budget)))
	}
	if r.Finetune == Auto && p.Epochs == 0 && p.Calibrated() {
		out = append(out, "fine-tuning: "+over)
	}
	if r.Finetune != Off && r.Epochs == 0 && p.Epochs > 0 && p.Epochs < MaxEpochs {
		out = append(out, fmt.Sprintf("fine-tuning: %d epochs, fewer than %d, to fit --time-budget %s", p.Epochs, MaxEpochs, fmtDuration(r.Budget)))
	}
	if p.Est.Total() > r.Budget {
		out = append(out, fmt.Sprintf("the plan's estimate %s is over --time-budget %s: nothing lighter does what the flags ask", fmtDuration(p.Est.Total()), fmtDuration(r.Budget)))
	}
	return out
}

// String is the plan as convert prints it before starting.
func (p Plan) String() string {
	var steps []string
	switch p.Source {
	case SourceSelf:
		steps = append(steps, fmt.Sprintf("self-calibration %d × %d tokens (est. %s)", p.Chunks, p.Ctx, fmtDuration(p.Est.Sample+p.Est.Collect)))
	case SourceText:
		size := fmt.Sprintf("at most %d × %d tokens", p.Chunks, p.Ctx)
		if p.Chunks == 0 {
			size = fmt.Sprintf("all of it in chunks of %d tokens, estimated as %d", p.Ctx, calib.DefaultChunks)
		}
		steps = append(steps, fmt.Sprintf("calibration on %s, %s (est. %s)", p.TextPath, size, fmtDuration(p.Est.Collect)))
	}
	if p.GPTQ {
		steps = append(steps, "GPTQ")
	}
	steps = append(steps, fmt.Sprintf("conversion (est. %s)", fmtDuration(p.Est.Convert)))
	if p.Epochs > 0 {
		fixed := ""
		if p.FixedIndices {
			fixed = ", indices fixed"
		}
		steps = append(steps, fmt.Sprintf("fine-tuning %d epochs%s (est. %s)", p.Epochs, fixed, fmtDuration(p.Est.Teacher+p.Est.Tune)))
	}
	line := "recipe: " + strings.Join(steps, ", ") + fmt.Sprintf("; total est. %s on the reference machine", fmtDuration(p.Est.Total()))
	if p.Budget > 0 {
		line += fmt.Sprintf(" (--time-budget %s; --fast: plain conversion)", fmtDuration(p.Budget))
	}
	for _, n := range p.Notes {
		line += "\n  " + n
	}
	return line
}

// fmtDuration rounds to what a person reads: seconds under two minutes,
// then minutes, then hours and minutes.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return d.Round(time.Second).String()
	case d < 2*time.Hour:
		return fmt.Sprintf("%.0f min", d.Minutes())
	}
	return d.Round(time.Minute).String()
}

// DefaultBudget is --time-budget's default: on the reference machine it
// gives models up to a few million weights the full recipe (stories260K:
// est. 6 min) and larger ones their plain conversion, which is what a user
// waits for without leaving; --time-budget 4h buys a 1B or 7B model its
// calibration (docs/CONVERT.md).
const DefaultBudget = 15 * time.Minute
