package recipe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pocketgguf/pocketgguf/calib/llamacalib"
	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
	"github.com/pocketgguf/pocketgguf/finetune"
)

// GPTQ's covariances: convert's --gptq-max-cols default, and the memory
// they may take in all (cols² float64 each).
const (
	DefaultGPTQMaxCols = 4096
	CovBudget          = 2 << 30
)

// Job is one conversion with its plan.
type Job struct {
	In, Out string
	Plan    Plan
	// Convert are the converter's options; Run fills in the statistics the
	// plan collects (ImatrixData, InputCovariance).
	Convert converter.Options
	// Finetune are the fine-tuning options; Run sets Epochs from the plan.
	Finetune finetune.Options
	// Calib says how the model runs over calibration text; Run sets Ctx,
	// Chunks and the covariance width from the plan.
	Calib llamacalib.Options
	// GPTQMaxCols is --gptq-max-cols: GPTQ's covariances only for inputs at
	// most this wide (and within CovBudget in all).
	GPTQMaxCols int
	// Scratch, when set, is told the path of the converted file that
	// fine-tuning reads, as soon as it is known, so a signal handler can
	// remove it.
	Scratch func(path string)
}

// Result is what Run did.
type Result struct {
	Convert  *converter.Result
	Finetune *finetune.Report // nil without fine-tuning
	Elapsed  time.Duration
}

// Run carries out the plan: calibration, conversion and fine-tuning. OUT
// appears only when every step succeeded: with fine-tuning, the conversion
// goes to a scratch file beside OUT, which fine-tuning reads and removes.
func Run(ctx context.Context, j Job) (*Result, error) {
	start := time.Now()
	p := j.Plan
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	text, err := j.calibrate()
	if err != nil {
		return nil, err
	}
	out := j.Out
	if p.Epochs > 0 {
		// Fine-tuning writes OUT itself. The scratch name is
		// gguf.CreateAtomic's temporary pattern, so a later write to OUT
		// removes it if this process is killed before it can.
		out = filepath.Join(filepath.Dir(j.Out), fmt.Sprintf(".%s.tmp-%d-prefinetune", filepath.Base(j.Out), os.Getpid()))
		j.Convert.CheckpointFor = j.Out // --resume keeps OUT.partial/ across runs
		defer os.Remove(out)
	}
	res := &Result{}
	if res.Convert, err = converter.Convert(ctx, j.In, out, j.Convert); err != nil {
		return nil, err
	}
	if p.Epochs > 0 {
		if j.Scratch != nil {
			j.Scratch(out)
		}
		if res.Finetune, err = j.tune(ctx, out, text); err != nil {
			return nil, err
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// calibrate gets the plan's text and collects its statistics into
// j.Convert; it returns the text, which fine-tuning trains on.
func (j *Job) calibrate() (string, error) {
	if !j.Plan.Calibrated() {
		return "", nil
	}
	text, source, err := j.text()
	if err != nil {
		return "", err
	}
	co := j.Calib
	co.Ctx, co.Chunks = j.Plan.Ctx, j.Plan.Chunks
	if j.Plan.Source == SourceSelf {
		co.Chunks = 0 // all of the sampled text
	}
	if j.Plan.GPTQ {
		co.CovMaxCols, co.CovBudget = j.GPTQMaxCols, CovBudget
	}
	st, err := llamacalib.Collect(j.In, text, source, co)
	if err != nil {
		return "", err
	}
	j.Convert.ImatrixData, j.Convert.InputCovariance = st.Imatrix, st.Covariance
	return text, nil
}

// text is the plan's calibration text and how messages name it.
func (j *Job) text() (text, source string, err error) {
	switch j.Plan.Source {
	case SourceText:
		b, err := os.ReadFile(j.Plan.TextPath)
		if err != nil {
			return "", "", fmt.Errorf("--calib-text: %w", err)
		}
		return string(b), "--calib-text " + j.Plan.TextPath, nil
	case SourceSelf:
		co := j.Calib
		co.Ctx, co.Chunks = j.Plan.Ctx, j.Plan.Chunks
		text, err := llamacalib.SelfText(j.In, uint32(j.Finetune.Seed), co)
		return text, "text sampled from the model (--calib-self)", err
	}
	return "", "", fmt.Errorf("no calibration text in this plan")
}

// tune fine-tunes the converted file pq against the input on text into OUT.
func (j *Job) tune(ctx context.Context, pq, text string) (*finetune.Report, error) {
	seqs, err := llamasrc.TokenChunks(j.In, text, j.Plan.Ctx, j.Plan.Chunks)
	if err != nil {
		return nil, fmt.Errorf("fine-tuning text (--calib-text, or sampled by --calib-chunks x --calib-ctx): %w", err)
	}
	o := j.Finetune
	o.Epochs = j.Plan.Epochs
	if j.Plan.FixedIndices {
		o.CodeLR = 0
	}
	rep, err := finetune.Run(ctx, j.In, pq, j.Out, seqs, o)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	return rep, nil
}

// Tune fine-tunes an existing PocketGGUF pq against its original j.In on
// the plan's text into j.Out (the finetune command).
func Tune(ctx context.Context, j Job, pq string) (*finetune.Report, error) {
	text, _, err := j.text()
	if err != nil {
		return nil, err
	}
	return j.tune(ctx, pq, text)
}
