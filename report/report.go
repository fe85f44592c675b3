// Package report runs the study behind `pocketgguf report` and
// docs/RESULTS.md: a model quantized with stock llama.cpp types and converted
// with PocketGGUF at several bpw targets, each file's KL divergence from the
// model over a text (eval, through eval/llamasrc), optionally the KLD with
// one tensor group at a time k-means quantized, written as eval.ResultsDoc
// markdown, a KLD-vs-bpw plot and results.json.
package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
	"github.com/pocketgguf/pocketgguf/progress"
)

// Options are one study. Paths are files; lists are already parsed.
type Options struct {
	Model       string    // F32/F16 GGUF: quantized, and the reference of every KLD
	Text        string    // evaluation text
	Calibration string    // text of llama.cpp's importance matrix ("": Text)
	CalibChunks int       // at most this many chunks of it (0: all)
	Out         string    // markdown results file
	Plot        string    // PNG plot ("": results-kld.png beside Out)
	WorkDir     string    // the quantized files and results.json
	BPW         []float64 // PocketGGUF whole-file bpw targets, each > 0
	Types       []string  // stock llama-quantize types (ones llama.cpp refuses are noted and skipped)
	Methods     []string  // PocketGGUF table training (quant.MethodKMeans, quant.MethodPocketLLM): one plot series each
	// Budget is each PocketGGUF conversion's --time-budget (convert's
	// default recipe); 0: plain conversions (--fast).
	Budget  time.Duration
	Seed    uint64
	Ctx     int // tokens per evaluation chunk
	Chunks  int // evaluate at most this many chunks (0: all)
	Threads int // 0: all cores
	// Sensitivity also measures KLD with one tensor group at a time k-means
	// quantized at each of SensConfigs (ParseSensConfigs).
	Sensitivity bool
	SensConfigs []SensConfig
	Command     string   // how the study was invoked, for the record
	Log         *os.File // progress and status lines (nil: os.Stderr)
	Quiet       bool     // only warnings on Log
}

// study is one run: the options, the base pass and the document it fills.
type study struct {
	opt  Options
	text string
	eval eval.Options
	base *eval.Base
	pr   *progress.Terminal
	doc  eval.ResultsDoc
}

// Run checks every input, then runs the phases: the base pass, stock
// llama.cpp types, PocketGGUF conversions, sensitivity, and writes the results.
func Run(ctx context.Context, opt Options) error {
	s, err := open(opt)
	if err != nil {
		return err
	}
	for _, d := range [][2]string{{"work dir", s.opt.WorkDir}, {"out", filepath.Dir(s.opt.Out)}, {"plot", filepath.Dir(s.opt.Plot)}} {
		if err := os.MkdirAll(d[1], 0o755); err != nil {
			return fmt.Errorf("%s: %w", d[0], err)
		}
	}
	s.pr.SetLabel(filepath.Base(s.opt.Model))
	if s.base, err = llamasrc.ComputeBase(s.opt.Model, s.text, s.eval, s.opt.Threads); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	defer s.base.Close()
	s.doc = eval.ResultsDoc{Model: filepath.Base(s.opt.Model), Text: filepath.Base(s.opt.Text), NCtx: s.base.NCtx,
		Chunks: s.base.NChunk, PerChunk: s.base.PerChunk(), PPLBase: s.base.BaseStats(), EvalCommand: s.opt.Command}
	if err := s.stock(ctx); err != nil {
		return err
	}
	if err := s.pocket(ctx); err != nil {
		return err
	}
	if s.opt.Sensitivity {
		if err := s.sensitivity(ctx); err != nil {
			return err
		}
	}
	return s.write()
}

// open validates opt and reads the texts: everything a typo can break,
// before any long work.
func open(opt Options) (*study, error) {
	if opt.Threads <= 0 {
		opt.Threads = runtime.NumCPU()
	}
	if opt.Log == nil {
		opt.Log = os.Stderr
	}
	if opt.Calibration == "" {
		opt.Calibration = opt.Text
	}
	if opt.Plot == "" {
		opt.Plot = filepath.Join(filepath.Dir(opt.Out), "results-kld.png")
	}
	if err := opt.validate(); err != nil {
		return nil, err
	}
	text, err := os.ReadFile(opt.Text)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	if _, err := os.ReadFile(opt.Calibration); err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	s := &study{opt: opt, text: string(text), eval: eval.Options{NCtx: opt.Ctx, Chunks: opt.Chunks},
		pr: progress.New(opt.Log, opt.Quiet)}
	s.eval.Progress = s.pr.Chunk
	return s, nil
}

// evalRow compares file with the base and adds a row described by fi (the
// file whose size counts, which for unpacked PocketGGUF is not file).
func (s *study) evalRow(method, label, file string, fi eval.FileInfo, cmd string) error {
	s.pr.SetLabel(filepath.Base(file))
	mr, err := llamasrc.CompareFile(s.base, file, s.eval, s.opt.Threads)
	if err != nil {
		return err
	}
	st := mr.Stats
	s.pr.Printf("%s %s: %.3f bpw, PPL %.4f, mean KLD %.5f ± %.5f, same top-1 %.2f%%", method, label, fi.BPW(), st.PPL.Val, st.KLD.Val, st.KLD.Err, 100*st.SameTop.Val)
	s.doc.Rows = append(s.doc.Rows, eval.Row{Method: method, Label: label, File: fi, Stats: st, Command: cmd})
	return nil
}

// note records why a row is missing, in the log and the document.
func (s *study) note(format string, a ...any) {
	n := fmt.Sprintf(format, a...)
	s.pr.Printf("%s", n)
	s.doc.Notes = append(s.doc.Notes, n)
}
