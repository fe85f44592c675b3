package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// write saves the markdown, the plot and a JSON copy of the document.
func (s *study) write() error {
	out, plot := s.opt.Out, s.opt.Plot
	var pts []eval.PlotPoint
	for _, row := range s.doc.Rows {
		pts = append(pts, eval.PlotPoint{Method: row.Method, BPW: row.File.BPW(), KLD: row.Stats.KLD.Val})
	}
	if len(pts) > 0 {
		title := fmt.Sprintf("%s on %s, n_ctx %d", s.doc.Model, s.doc.Text, s.doc.NCtx)
		if err := eval.PlotKLD(pts, title, plot); err != nil {
			return fmt.Errorf("plot %s: %w", plot, err)
		}
		if rel, err := filepath.Rel(filepath.Dir(out), plot); err == nil {
			s.doc.Plot = rel
		}
	}
	af, err := gguf.CreateAtomic(out)
	if err != nil {
		return err
	}
	defer af.Abort()
	if err := s.doc.WriteMarkdown(af); err != nil {
		return err
	}
	if err := af.Commit(); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(s.doc, "", "  ")
	if err := os.WriteFile(filepath.Join(s.opt.WorkDir, "results.json"), js, 0o644); err != nil {
		return err
	}
	s.pr.Printf("wrote %s and %s", out, plot)
	return nil
}
