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
	Sensitivity *SensitivityTable `json:",omitempty"`
}

// SensitivityTable is the KLD with one group of tensors at a time k-means
// quantized (eval.FakeQuantizeSize), the rest of the model untouched: a row
// per group, a cell per precision.
type SensitivityTable struct {
	Configs []string // column labels, e.g. "v2 K16 (2 bits/w)"
	Rows    []SensitivityRow
}

// SensitivityRow is one tensor group, a cell per SensitivityTable.Configs.
type SensitivityRow struct {
	Group string
	Share float64 // the group's weights over all weights of the model
	Cells []SensitivityCell
}

// SensitivityCell is one group at one precision.
type SensitivityCell struct {
	RelRMSE float64 // the largest over the group's tensors
	Stats   Stats
	BPW     float64 // whole-file bpw with the group stored as PQ
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
	if d.Sensitivity != nil {
		fmt.Fprintf(&b, "\n%s\n", d.Sensitivity.markdown())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (t *SensitivityTable) markdown() string {
	var b strings.Builder
	b.WriteString("## Sensitivity: one tensor group at a time\n\n")
	b.WriteString("Each row k-means-quantizes only the named tensors (one table per tensor, f16 row scales),\n")
	b.WriteString("stores them back as F32 and evaluates against the original; everything else is untouched.\n")
	b.WriteString("Share = the group's weights over all weights of the model; bits/w in a column name is\n")
	b.WriteString("log2(K)/v, the index cost alone. Rel RMSE is the largest over the group's tensors. bpw is\n")
	b.WriteString("the whole-file bits per weight the file would have with those tensors stored as PQ\n")
	b.WriteString("(format v1 index widths of 8/12/16 bits, per-tensor f16 tables, f16 row scales).\n\n")
	b.WriteString("| group | share |")
	for _, c := range t.Configs {
		fmt.Fprintf(&b, " %s rel RMSE | mean KLD | same top-1 | bpw |", c)
	}
	b.WriteString("\n|---|---:|" + strings.Repeat("---:|---:|---:|---:|", len(t.Configs)) + "\n")
	for _, r := range t.Rows {
		fmt.Fprintf(&b, "| %s | %.1f%% |", r.Group, 100*r.Share)
		for _, c := range r.Cells {
			s := c.Stats
			fmt.Fprintf(&b, " %.3f | %.5f ± %.5f | %.1f%% | %.2f |", c.RelRMSE, s.KLD.Val, s.KLD.Err, 100*s.SameTop.Val, c.BPW)
		}
		b.WriteString("\n")
	}
	return b.String()
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
