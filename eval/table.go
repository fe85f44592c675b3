package eval

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
)

// ModelResult is one test model's line of an eval run.
type ModelResult struct {
	Model string    `json:"model"`
	File  *FileInfo `json:"file,omitempty"`
	Stats Stats     `json:"stats"`
}

// Result is a whole eval run: one base pass, several test models.
type Result struct {
	Base     string        `json:"base"`
	Text     string        `json:"text"`
	NCtx     int           `json:"n_ctx"`
	Chunks   int           `json:"chunks"`
	PerChunk int           `json:"scored_per_chunk"`
	Encoding string        `json:"base_logprob_encoding"`
	PPLBase  ValErr        `json:"ppl_base"`
	Models   []ModelResult `json:"models"`
}

// WriteTable prints the run the way a reader compares quantizations: one
// row per test model, the figures llama-perplexity prints last.
func (r Result) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "base %s: PPL %.4f ± %.4f over %d chunks × %d scored tokens (n_ctx %d, text %s)\n",
		filepath.Base(r.Base), r.PPLBase.Val, r.PPLBase.Err, r.Chunks, r.PerChunk, r.NCtx, filepath.Base(r.Text))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tbpw\tPPL\tln(PPL/PPL base)\tmean KLD\tKLD p99\tKLD median\tKLD max\tsame top-1\tRMS Δp\t")
	for _, m := range r.Models {
		s := m.Stats
		bpw := "-"
		if m.File != nil {
			bpw = fmt.Sprintf("%.2f", m.File.BPW())
		}
		fmt.Fprintf(tw, "%s\t%s\t%.4f ± %.4f\t%.5f ± %.5f\t%.6f ± %.6f\t%.5f\t%.6f\t%.4f\t%.2f ± %.2f %%\t%.3f ± %.3f %%\t\n",
			filepath.Base(m.Model), bpw, s.PPL.Val, s.PPL.Err, s.LnPPLRatio.Val, s.LnPPLRatio.Err,
			s.KLD.Val, s.KLD.Err, s.KLDP99, s.KLDMedian, s.KLDMax,
			100*s.SameTop.Val, 100*s.SameTop.Err, 100*s.RMSDeltaP.Val, 100*s.RMSDeltaP.Err)
	}
	return tw.Flush()
}
