package report

import (
	"context"
	"fmt"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/calib/llamacalib"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
)

// stock quantizes with llama.cpp (an importance matrix over the calibration
// text for the types that need one) and evaluates each type.
func (s *study) stock(ctx context.Context) error {
	if len(s.opt.Types) == 0 {
		return nil
	}
	o := s.opt
	im, err := llamacalib.ImatrixFor(llamacalib.ImatrixRequest{Types: o.Types, Model: o.Model, Text: o.Calibration, OutDir: o.WorkDir,
		Calib: llamacalib.Options{Ctx: s.base.NCtx, Chunks: o.CalibChunks, Threads: o.Threads, Progress: s.pr}})
	if err != nil {
		return err
	}
	for _, ft := range o.Types {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.pr.Printf("llama.cpp %s: quantizing", ft)
		qf, err := llamasrc.QuantizeStock(o.Model, o.WorkDir, ft, llamacalib.ImatrixOf(ft, im, false), o.Threads)
		if err != nil {
			s.note("llama.cpp %s: not produced: %v", ft, err)
			continue
		}
		cmd := fmt.Sprintf("pocketgguf baseline %s --types %s --out-dir %s", o.Model, ft, o.WorkDir)
		if bridge.FTypeNeedsImatrix(ft) {
			cmd += fmt.Sprintf(" --text %s --ctx %d --chunks %d", o.Calibration, s.base.NCtx, o.CalibChunks)
		}
		if err := s.evalRow("llama.cpp", ft, qf.Info.Path, qf.Info, cmd); err != nil {
			return err
		}
	}
	return nil
}
