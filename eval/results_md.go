package eval

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Row is one quantized file in docs/RESULTS.md.
type Row struct {
	Method  string   `json:"method"` // "llama.cpp" or "PocketGGUF"
	Label   string   `json:"label"`  // ftype name or target bpw
	File    FileInfo `json:"file"`
	Stats   Stats    `json:"stats"`
	Command string   `json:"command"` // the exact command that made the file
}

// ResultsDoc is everything docs/RESULTS.md shows.
type ResultsDoc struct {
	Model, Text string
	NCtx        int
	Chunks      int
	PerChunk    int
	PPLBase     ValErr
	EvalCommand string // the command that produced the document
	Plot        string // file name of the plot, beside the document
	Rows        []Row
	Notes       []string
}

// WriteMarkdown writes the results table, rows sorted by method then bpw.
func (d ResultsDoc) WriteMarkdown(w io.Writer) error {
	rows := append([]Row(nil), d.Rows...)
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Method != rows[j].Method {
			return rows[i].Method < rows[j].Method
		}
		return rows[i].File.BPW() < rows[j].File.BPW()
	})
	var b strings.Builder
	fmt.Fprintf(&b, "# Results\n\n")
	fmt.Fprintf(&b, "Mean KL divergence of each quantized file's next-token distributions from the\n")
	fmt.Fprintf(&b, "original model's, computed as llama-perplexity's `--kl-divergence` mode does\n")
	fmt.Fprintf(&b, "(`pocketgguf eval`): model `%s`, text `%s`, n_ctx %d, %d chunks × %d scored\n", d.Model, d.Text, d.NCtx, d.Chunks, d.PerChunk)
	fmt.Fprintf(&b, "tokens, base PPL %.4f ± %.4f. Whole-file bpw = file bytes × 8 / weights in all\n", d.PPLBase.Val, d.PPLBase.Err)
	fmt.Fprintf(&b, "tensors (metadata, codebooks, decoders and unquantized tensors included).\n\n")
	fmt.Fprintf(&b, "Produced by:\n\n```\n%s\n```\n\n", d.EvalCommand)
	if d.Plot != "" {
		fmt.Fprintf(&b, "![mean KLD against whole-file bpw](%s)\n\n", d.Plot)
	}
	fmt.Fprintf(&b, "| method | type / mix | whole-file bpw | size | PPL | mean KLD | KLD p99 | same top-1 | command |\n")
	fmt.Fprintf(&b, "|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		s := r.Stats
		fmt.Fprintf(&b, "| %s | %s<br>%s | %.2f | %s | %.4f ± %.4f | %.5f ± %.5f | %.4f | %.2f ± %.2f %% | `%s` |\n",
			r.Method, r.Label, r.File.Mix(), r.File.BPW(), humanBytes(r.File.Bytes), s.PPL.Val, s.PPL.Err,
			s.KLD.Val, s.KLD.Err, s.KLDP99, 100*s.SameTop.Val, 100*s.SameTop.Err, strings.ReplaceAll(r.Command, "|", "\\|"))
	}
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}
