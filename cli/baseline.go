package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/calib/llamacalib"
	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
	"github.com/pocketgguf/pocketgguf/progress"
	"github.com/urfave/cli/v2"
)

func init() {
	register(&cli.Command{
		Name:      "baseline",
		Usage:     "quantize with stock llama.cpp (llama_model_quantize) and report the types it used and the whole-file bpw",
		ArgsUsage: "BASE.gguf",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "types", Value: "Q8_0,Q5_0,Q4_0,IQ4_NL,Q2_K,IQ2_XXS", Usage: "comma-separated llama-quantize types (" + strings.Join(bridge.FTypeNames(), ", ") + ")"},
			&cli.StringFlag{Name: "imatrix", Usage: "importance matrix (llama.cpp GGUF or .dat); computed from --text when a type needs one and this is not given"},
			&cli.StringFlag{Name: "text", Usage: "calibration text for the importance matrix"},
			&cli.IntFlag{Name: "ctx", Value: 256, Usage: "tokens per imatrix chunk"},
			&cli.IntFlag{Name: "chunks", Usage: "at most this many imatrix chunks (0: all)"},
			&cli.StringFlag{Name: "out-dir", Value: ".", Usage: "folder for the quantized files (<base>-<TYPE>.gguf)"},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Value: runtime.NumCPU()},
			&cli.BoolFlag{Name: "json", Usage: "print machine-readable results"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		},
		Action: runBaseline,
	})
}

func runBaseline(c *cli.Context) error {
	args, err := parseTrailingFlags(c) // `baseline BASE.gguf --types ...` as with llama-quantize
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if len(args) != 1 {
		return fmt.Errorf("baseline: want BASE.gguf, got %d arguments: %q", len(args), args)
	}
	base := args[0]
	types, err := parseTypes(c.String("types"))
	if err != nil {
		return err
	}
	pr := progress.New(os.Stderr, c.Bool("quiet"))
	im, err := llamacalib.ImatrixFor(llamacalib.ImatrixRequest{Types: types, File: c.String("imatrix"), Model: base, Text: c.String("text"), OutDir: c.String("out-dir"),
		Calib: llamacalib.Options{Ctx: c.Int("ctx"), Chunks: c.Int("chunks"), Threads: c.Int("threads"), Progress: pr}})
	if err != nil {
		return err
	}
	// A type llama.cpp refuses for this model is reported and the others
	// still made; the command fails at the end if any was refused.
	var files []llamasrc.QuantizeFile
	var failed []string
	for _, ft := range types {
		pr.Printf("quantizing %s to %s", base, ft)
		qf, err := llamasrc.QuantizeStock(base, c.String("out-dir"), ft, llamacalib.ImatrixOf(ft, im, c.String("imatrix") != ""), c.Int("threads"))
		if err != nil {
			fmt.Fprintf(os.Stderr, "baseline %s: %v\n", ft, err)
			failed = append(failed, ft)
			continue
		}
		files = append(files, qf)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(files); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "type\tfile\tbytes\twhole-file bpw\ttensors per ggml type\t")
		for _, f := range files {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%s\t\n", f.FType, f.Info.Path, f.Info.Bytes, f.Info.BPW(), typeCounts(f.Info))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("baseline: llama.cpp could not make %s of %s (see above)", strings.Join(failed, ", "), base)
	}
	return nil
}

// parseTypes checks a comma-separated list of llama-quantize type names.
func parseTypes(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.ToUpper(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		if _, err := bridge.ParseFType(t); err != nil {
			return nil, fmt.Errorf("--types: %w", err)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--types: empty")
	}
	return out, nil
}

// typeCounts is "q4_0×35 f32×11 q8_0×2", most tensors first.
func typeCounts(fi eval.FileInfo) string {
	names := make([]string, 0, len(fi.Types))
	for n := range fi.Types {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := fi.Types[names[i]], fi.Types[names[j]]
		return a > b || a == b && names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s×%d", n, fi.Types[n])
	}
	return strings.Join(parts, " ")
}
