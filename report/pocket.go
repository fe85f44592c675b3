package report

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/calib/llamacalib"
	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
	"github.com/pocketgguf/pocketgguf/finetune"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/progress"
	"github.com/pocketgguf/pocketgguf/recipe"
)

// pocket converts with each method at each bpw target and evaluates the
// results.
func (s *study) pocket(ctx context.Context) error {
	for _, m := range s.opt.Methods {
		for _, b := range s.opt.BPW {
			if err := s.pocketRow(ctx, m, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// pocketRow converts at one bpw target and evaluates the result: natively
// when the linked libllama loads PQ types, else its unpacked F32 copy (the
// same weights, rebuilt by the format's rule). A conversion that fails is a
// note, not the end of the study.
func (s *study) pocketRow(ctx context.Context, method string, bpw float64) error {
	stem := strings.TrimSuffix(filepath.Base(s.opt.Model), ".gguf")
	pq := filepath.Join(s.opt.WorkDir, fmt.Sprintf("%s-pq-%s-%gbpw.gguf", stem, method, bpw))
	cmd, err := s.convertPocket(ctx, method, bpw, pq)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		s.note("PocketGGUF %s at %g bpw: not produced: `%s` failed: %v", method, bpw, cmd, err)
		return nil
	}
	fi, err := eval.ReadFileInfo(pq)
	if err != nil {
		return err
	}
	target := pq
	if src, err := llamasrc.Open(pq, s.base.NCtx, s.opt.Threads); err == nil {
		src.Close()
	} else {
		target = strings.TrimSuffix(pq, ".gguf") + ".unpacked-f32.gguf"
		cmd += fmt.Sprintf(" && pocketgguf unpack --type f32 %s %s", pq, target)
		if err := converter.Unpack(ctx, pq, target, gguf.TypeF32, nil); err != nil {
			return fmt.Errorf("report: unpack %s: %w", pq, err)
		}
	}
	return s.evalRow("PocketGGUF "+method, fmt.Sprintf("--bpw %g", bpw), target, fi, cmd)
}

// convertPocket makes the PocketGGUF of one row, the model converted with
// method at a bpw target by convert's default recipe under the study's time
// budget (Budget 0: a plain conversion, as --fast), into out, and returns
// the command line that makes the same file. Every PocketGGUF of the study
// is made here.
func (s *study) convertPocket(ctx context.Context, method string, bpw float64, out string) (cmdLine string, err error) {
	m, err := converter.ParseMethod(method)
	if err != nil {
		return "", err
	}
	// convert's defaults: the fast additive types, unless PocketLLM decoders
	// (trained for plain tables) imply the plain ones.
	opt := converter.Options{BPW: bpw, Seed: s.opt.Seed, Threads: s.opt.Threads, Method: m, Prefer: converter.PreferSpeed}
	flags := fmt.Sprintf("--bpw %g", bpw)
	if m == converter.MethodPocketLLM {
		opt.Prefer = converter.PreferQuality
		flags += " --method pocketllm"
	}
	g, err := gguf.Open(s.opt.Model)
	if err != nil {
		return "", err
	}
	shape := recipe.ShapeOf(g, recipe.DefaultGPTQMaxCols)
	g.Close()
	plan := recipe.Choose(shape, recipe.Request{Budget: s.opt.Budget, Ctx: calib.DefaultCtx})
	if s.opt.Budget > 0 {
		flags += " --time-budget " + s.opt.Budget.String()
	} else {
		flags += " --fast"
	}
	cmdLine = fmt.Sprintf("pocketgguf convert %s --seed %d %s %s", flags, opt.Seed, s.opt.Model, out)
	s.pr.Printf("PocketGGUF %g bpw: %s\n%s", bpw, cmdLine, plan)
	pr := progress.New(s.opt.Log, s.opt.Quiet)
	opt.Events = pr
	ft := finetune.DefaultOptions()
	ft.Seed, ft.Threads = s.opt.Seed, s.opt.Threads
	if !s.opt.Quiet {
		ft.Log = func(line string) { pr.Printf("%s", line) }
	}
	job := recipe.Job{In: s.opt.Model, Out: out, Plan: plan, Convert: opt, Finetune: ft,
		Calib: llamacalib.Options{Threads: s.opt.Threads, Progress: pr}, GPTQMaxCols: recipe.DefaultGPTQMaxCols}
	_, err = recipe.Run(ctx, job)
	pr.Finish()
	return cmdLine, err
}
