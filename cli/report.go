package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/calib/llamacalib"
	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/progress"
	"github.com/pocketgguf/pocketgguf/quant"
	"github.com/urfave/cli/v2"
)

func init() {
	register(&cli.Command{
		Name:  "report",
		Usage: "quantize a model with PocketGGUF at several bpw and with stock llama.cpp types, evaluate all, write docs/RESULTS.md and a KLD-vs-bpw plot",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Required: true, Usage: "F32/F16 GGUF to compress"},
			&cli.StringFlag{Name: "text", Aliases: []string{"f"}, Required: true, Usage: "evaluation text"},
			&cli.StringFlag{Name: "calibration", Usage: "calibration text for llama.cpp's importance matrix (default: --text)"},
			&cli.StringFlag{Name: "out", Value: "docs/RESULTS.md", Usage: "markdown results file"},
			&cli.StringFlag{Name: "plot", Usage: "PNG plot (default: results-kld.png beside --out)"},
			&cli.StringFlag{Name: "work-dir", Value: "build/report", Usage: "folder for the quantized files"},
			&cli.StringFlag{Name: "bpw", Value: "1.6,2,2.5,3,4,5", Usage: "PocketGGUF whole-file bpw targets"},
			&cli.StringFlag{Name: "types", Value: "Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,TQ2_0,IQ4_NL,Q3_K_M,Q2_K,IQ2_XXS", Usage: "stock llama.cpp types (ones llama.cpp refuses for the model are noted and skipped)"},
			&cli.StringFlag{Name: "method", Value: "pocketllm,kmeans", Usage: "PocketGGUF table training, comma-separated: pocketllm, kmeans (one plot series each)"},
			&cli.Uint64Flag{Name: "seed", Value: 1},
			&cli.IntFlag{Name: "ctx", Aliases: []string{"c"}, Value: 256},
			&cli.IntFlag{Name: "chunks", Usage: "evaluate at most this many chunks (0: all)"},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Value: runtime.NumCPU()},
			&cli.BoolFlag{Name: "sensitivity", Usage: "also measure KLD with one tensor kind (and one layer, and all weights) at a time k-means quantized"},
			&cli.StringFlag{Name: "sensitivity-configs", Value: "v2k16,v4k16,v2k256,v4k256", Usage: "k-means precisions of the sensitivity table: v<sub-vector length>k<codebook entries>, comma-separated"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		},
		Action: runReport,
	})
}

type reportRun struct {
	c       *cli.Context
	model   string
	textArg string
	workDir string
	opt     eval.Options
	threads int
	base    *eval.Base
	pr      *progress.Terminal
	doc     eval.ResultsDoc
}

func runReport(c *cli.Context) error {
	r := &reportRun{c: c, model: c.String("model"), textArg: c.String("text"), workDir: c.String("work-dir"),
		opt: eval.Options{NCtx: c.Int("ctx"), Chunks: c.Int("chunks")}, threads: c.Int("threads"),
		pr: progress.New(os.Stderr, c.Bool("quiet"))}
	r.opt.Progress = r.pr.Chunk
	bpws, err := parseFloats(c.String("bpw"))
	if err != nil {
		return fmt.Errorf("--bpw: %w", err)
	}
	var types []string
	if strings.TrimSpace(c.String("types")) != "" {
		if types, err = parseTypes(c.String("types")); err != nil {
			return err
		}
	}
	text, err := os.ReadFile(r.textArg)
	if err != nil {
		return fmt.Errorf("--text: %w", err)
	}
	if err := os.MkdirAll(r.workDir, 0o755); err != nil {
		return err
	}
	r.pr.SetLabel(filepath.Base(r.model))
	if r.base, err = baseFor(r.model, string(text), r.opt, r.threads); err != nil {
		return err
	}
	defer r.base.Close()
	r.doc = eval.ResultsDoc{Model: filepath.Base(r.model), Text: filepath.Base(r.textArg), NCtx: r.base.NCtx,
		Chunks: r.base.NChunk, PerChunk: r.base.PerChunk(), PPLBase: r.base.BaseStats(), EvalCommand: commandLine()}

	if len(types) > 0 {
		if err := r.stock(types); err != nil {
			return err
		}
	}
	for _, m := range strings.Split(c.String("method"), ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		for _, b := range bpws {
			if err := r.pocket(m, b); err != nil {
				return err
			}
		}
	}
	if c.Bool("sensitivity") {
		if err := r.sensitivity(); err != nil {
			return err
		}
	}
	return r.write()
}

// stock quantizes with llama.cpp and evaluates each type.
func (r *reportRun) stock(types []string) error {
	cal := r.c.String("calibration")
	if cal == "" {
		cal = r.textArg
	}
	im, err := imatrixFor(imatrixRequest{Types: types, Model: r.model, Text: cal, OutDir: r.workDir,
		Calib: llamacalib.Options{Ctx: r.base.NCtx, Threads: r.threads, Progress: r.pr}})
	if err != nil {
		return err
	}
	for _, ft := range types {
		r.pr.Printf("llama.cpp %s: quantizing", ft)
		qf, err := llamasrc.QuantizeStock(r.model, r.workDir, ft, imatrixOf(ft, im, false), r.threads)
		if err != nil {
			note := fmt.Sprintf("llama.cpp %s: not produced: %v", ft, err)
			r.pr.Printf("%s", note)
			r.doc.Notes = append(r.doc.Notes, note)
			continue
		}
		cmd := fmt.Sprintf("pocketgguf baseline %s --types %s --out-dir %s", r.model, ft, r.workDir)
		if bridge.FTypeNeedsImatrix(ft) {
			cmd += " --text " + cal
		}
		if err := r.evalRow("llama.cpp", ft, qf.Info.Path, qf.Info, cmd); err != nil {
			return err
		}
	}
	return nil
}

// pocket converts at one bpw target and evaluates the result: natively when
// the linked libllama loads PQ types, else its unpacked F32 copy (the same
// weights, rebuilt by the format's rule).
func (r *reportRun) pocket(method string, bpw float64) error {
	stem := strings.TrimSuffix(filepath.Base(r.model), ".gguf")
	pq := filepath.Join(r.workDir, fmt.Sprintf("%s-pq-%s-%gbpw.gguf", stem, method, bpw))
	opt := converter.Options{BPW: bpw, Method: method, Seed: r.c.Uint64("seed"), Threads: r.threads}
	cmd := fmt.Sprintf("pocketgguf convert --bpw %g --method %s --seed %d %s %s", bpw, opt.Method, opt.Seed, r.model, pq)
	r.pr.Printf("PocketGGUF %g bpw: %s", bpw, cmd)
	pr := progress.New(os.Stderr, r.c.Bool("quiet"))
	opt.Events = pr
	_, err := converter.Convert(context.Background(), r.model, pq, opt)
	pr.Finish()
	if err != nil {
		note := fmt.Sprintf("PocketGGUF %s at %g bpw: not produced: `%s` failed: %v", method, bpw, cmd, err)
		r.pr.Printf("%s", note)
		r.doc.Notes = append(r.doc.Notes, note)
		return nil
	}
	fi, err := eval.ReadFileInfo(pq)
	if err != nil {
		return err
	}
	target := pq
	if src, err := llamasrc.Open(pq, r.base.NCtx, r.threads); err == nil {
		src.Close()
	} else {
		target = strings.TrimSuffix(pq, ".gguf") + ".unpacked-f32.gguf"
		cmd += fmt.Sprintf(" && pocketgguf unpack --type f32 %s %s", pq, target)
		if err := converter.Unpack(context.Background(), pq, target, gguf.TypeF32, nil); err != nil {
			return fmt.Errorf("report: unpack %s: %w", pq, err)
		}
	}
	return r.evalRow("PocketGGUF "+method, fmt.Sprintf("--bpw %g", bpw), target, fi, cmd)
}

// evalRow compares file with the base and adds a row described by fi (the
// file whose size counts, which for unpacked PocketGGUF is not file).
func (r *reportRun) evalRow(method, label, file string, fi eval.FileInfo, cmd string) error {
	r.pr.SetLabel(filepath.Base(file))
	mr, err := compareModel(r.base, file, r.opt, r.threads)
	if err != nil {
		return err
	}
	s := mr.Stats
	r.pr.Printf("%s %s: %.3f bpw, PPL %.4f, mean KLD %.5f ± %.5f, same top-1 %.2f%%", method, label, fi.BPW(), s.PPL.Val, s.KLD.Val, s.KLD.Err, 100*s.SameTop.Val)
	r.doc.Rows = append(r.doc.Rows, eval.Row{Method: method, Label: label, File: fi, Stats: s, Command: cmd})
	return nil
}

// sensitivity measures, for each tensor kind and each layer alone, the KLD
// of k-means quantization at 2 and 1 bits per weight of indices (K = 16,
// v = 2 and 4, per-row scales: small enough a table that even a 64×32
// weight has many sub-vectors per entry), the rest of the model untouched.
func (r *reportRun) sensitivity() error {
	kinds := []string{"token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}
	var groups []sensGroup
	for _, k := range kinds {
		groups = append(groups, sensGroup{k, regexp.MustCompile(`(^|\.)` + k + `\.weight$`)})
	}
	info, err := eval.ReadFileInfo(r.model)
	if err != nil {
		return err
	}
	for l := 0; ; l++ {
		pat := regexp.MustCompile(fmt.Sprintf(`^blk\.%d\.`, l))
		if !hasTensor(r.model, pat) {
			break
		}
		groups = append(groups, sensGroup{fmt.Sprintf("blk.%d (all)", l), pat})
	}
	groups = append(groups, sensGroup{"all but output", regexp.MustCompile(`^(blk\.|token_embd\.)`)},
		sensGroup{"all weights", regexp.MustCompile(`\.weight$`)})
	cfgs, err := parseSensConfigs(r.c.String("sensitivity-configs"))
	if err != nil {
		return err
	}
	res, err := runSensitivity(r, groups, cfgs, info)
	if err != nil {
		return err
	}
	r.doc.Notes = append(r.doc.Notes, res)
	return nil
}

type sensGroup struct {
	name string
	pat  *regexp.Regexp
}

type sensConfig struct {
	label string
	opt   quant.Options
}

// parseSensConfigs reads "v2k16,v4k256": per-tensor k-means tables with
// per-row scales.
func parseSensConfigs(s string) ([]sensConfig, error) {
	var out []sensConfig
	for _, f := range strings.Split(s, ",") {
		var v, k int
		if _, err := fmt.Sscanf(strings.ToLower(strings.TrimSpace(f)), "v%dk%d", &v, &k); err != nil || k < 2 || k > 65536 {
			return nil, fmt.Errorf("--sensitivity-configs: %q is not v<2|4|8>k<2..65536>", f)
		}
		label := fmt.Sprintf("v%d K%d (%.3g bits/w)", v, k, math.Log2(float64(k))/float64(v))
		out = append(out, sensConfig{label, quant.Options{Method: quant.MethodKMeans, V: v, K: k, Seed: 1, RowScale: true}})
	}
	return out, nil
}

func runSensitivity(r *reportRun, groups []sensGroup, sensConfigs []sensConfig, info eval.FileInfo) (string, error) {
	g, err := gguf.Open(r.model)
	if err != nil {
		return "", err
	}
	defer g.Close()
	var b strings.Builder
	b.WriteString("## Sensitivity: one tensor group at a time\n\n")
	b.WriteString("Each row k-means-quantizes only the named tensors (one table per tensor, f16 row scales),\n")
	b.WriteString("stores them back as F32 and evaluates against the original; everything else is untouched.\n")
	b.WriteString("Share = the group's weights over all weights of the model; bits/w in a column name is\n")
	b.WriteString("log2(K)/v, the index cost alone. Rel RMSE is the largest over the group's tensors. bpw is\n")
	b.WriteString("the whole-file bits per weight the file would have with those tensors stored as PQ\n")
	b.WriteString("(format v1 index widths of 8/12/16 bits, per-tensor f16 tables, f16 row scales).\n\n")
	b.WriteString("| group | share |")
	for _, c := range sensConfigs {
		fmt.Fprintf(&b, " %s rel RMSE | mean KLD | same top-1 | bpw |", c.label)
	}
	b.WriteString("\n|---|---:|" + strings.Repeat("---:|---:|---:|---:|", len(sensConfigs)) + "\n")
	for _, grp := range groups {
		var n int64
		for _, t := range g.Tensors {
			if grp.pat.MatchString(t.Name) && len(t.Shape) == 2 {
				n += int64(t.Elements())
			}
		}
		if n == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f%% |", grp.name, 100*float64(n)/float64(info.Elements))
		for ci, c := range sensConfigs {
			out := filepath.Join(r.workDir, fmt.Sprintf("sens-%d.gguf", ci))
			r.pr.Printf("sensitivity: %s at %s", grp.name, c.label)
			errs, size, err := eval.FakeQuantizeSize(r.model, out, grp.pat, c.opt)
			if err != nil {
				return "", fmt.Errorf("sensitivity %s: %w", grp.name, err)
			}
			worst := 0.0
			for _, e := range errs {
				worst = max(worst, e)
			}
			r.pr.SetLabel(grp.name)
			mr, err := compareModel(r.base, out, r.opt, r.threads)
			os.Remove(out)
			if err != nil {
				return "", err
			}
			s := mr.Stats
			r.pr.Printf("sensitivity: %s at %s: rel RMSE %.3f, mean KLD %.5f, same top-1 %.1f%%", grp.name, c.label, worst, s.KLD.Val, 100*s.SameTop.Val)
			fmt.Fprintf(&b, " %.3f | %.5f ± %.5f | %.1f%% | %.2f |", worst, s.KLD.Val, s.KLD.Err, 100*s.SameTop.Val, float64(size)*8/float64(info.Elements))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

func hasTensor(path string, pat *regexp.Regexp) bool {
	g, err := gguf.Open(path)
	if err != nil {
		return false
	}
	defer g.Close()
	for _, t := range g.Tensors {
		if pat.MatchString(t.Name) {
			return true
		}
	}
	return false
}

// write saves the markdown, the plot and a JSON copy of the rows.
func (r *reportRun) write() error {
	out := r.c.String("out")
	plot := r.c.String("plot")
	if plot == "" {
		plot = filepath.Join(filepath.Dir(out), "results-kld.png")
	}
	var pts []eval.PlotPoint
	for _, row := range r.doc.Rows {
		pts = append(pts, eval.PlotPoint{Method: row.Method, BPW: row.File.BPW(), KLD: row.Stats.KLD.Val})
	}
	if len(pts) > 0 {
		title := fmt.Sprintf("%s on %s, n_ctx %d", r.doc.Model, r.doc.Text, r.doc.NCtx)
		if err := eval.PlotKLD(pts, title, plot); err != nil {
			return fmt.Errorf("plot %s: %w", plot, err)
		}
		if rel, err := filepath.Rel(filepath.Dir(out), plot); err == nil {
			r.doc.Plot = rel
		}
	}
	af, err := gguf.CreateAtomic(out)
	if err != nil {
		return err
	}
	defer af.Abort()
	if err := r.doc.WriteMarkdown(af); err != nil {
		return err
	}
	if err := af.Commit(); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(r.doc, "", "  ")
	if err := os.WriteFile(filepath.Join(r.workDir, "results.json"), js, 0o644); err != nil {
		return err
	}
	r.pr.Printf("wrote %s and %s", out, plot)
	return nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// commandLine is how this process was invoked, for the record.
func commandLine() string {
	args := append([]string{"pocketgguf"}, os.Args[1:]...)
	for i, a := range args {
		if strings.ContainsAny(a, " \t'\"$") {
			args[i] = strconv.Quote(a)
		}
	}
	return strings.Join(args, " ")
}
