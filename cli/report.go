package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/recipe"
	"github.com/pocketgguf/pocketgguf/report"
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
			&cli.IntFlag{Name: "calib-chunks", Value: calib.DefaultChunks, Usage: "at most this many --ctx chunks of --calibration for llama.cpp's importance matrix (0: all), as PocketGGUF's own calibration"},
			&cli.StringFlag{Name: "out", Value: "docs/RESULTS.md", Usage: "markdown results file"},
			&cli.StringFlag{Name: "plot", Usage: "PNG plot (default: results-kld.png beside --out)"},
			&cli.StringFlag{Name: "work-dir", Value: "build/report", Usage: "folder for the quantized files"},
			&cli.StringFlag{Name: "bpw", Value: "1.6,2,2.5,3,4,5", Usage: "PocketGGUF whole-file bpw targets"},
			&cli.StringFlag{Name: "types", Value: "Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,TQ2_0,IQ4_NL,Q3_K_M,Q2_K,IQ2_XXS", Usage: "stock llama.cpp types (ones llama.cpp refuses for the model are noted and skipped)"},
			&cli.StringFlag{Name: "method", Value: "kmeans", Usage: "PocketGGUF table training, comma-separated: kmeans (convert's default: the fast pqa_* types), pocketllm (plain pq_* types with decoders); one plot series each"},
			&cli.DurationFlag{Name: "time-budget", Value: recipe.DefaultBudget, Usage: "each PocketGGUF conversion's --time-budget (convert's default recipe: self-calibration, GPTQ, fine-tuning as far as they fit)"},
			&cli.BoolFlag{Name: "fast", Usage: "plain PocketGGUF conversions (convert --fast)"},
			&cli.Uint64Flag{Name: "seed", Value: 1},
			&cli.IntFlag{Name: "ctx", Aliases: []string{"c"}, Value: 256},
			&cli.IntFlag{Name: "chunks", Usage: "evaluate at most this many chunks (0: all)"},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Value: runtime.NumCPU()},
			&cli.BoolFlag{Name: "sensitivity", Usage: "also measure KLD with one tensor kind (and one layer, and all weights) at a time k-means quantized"},
			&cli.StringFlag{Name: "sensitivity-configs", Value: report.DefaultSensConfigs, Usage: "k-means precisions of the sensitivity table: v<sub-vector length>k<codebook entries>, comma-separated"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		},
		Action: runReport,
	})
}

func runReport(c *cli.Context) error {
	opt := report.Options{Model: c.String("model"), Text: c.String("text"), Calibration: c.String("calibration"), CalibChunks: c.Int("calib-chunks"),
		Out: c.String("out"), Plot: c.String("plot"), WorkDir: c.String("work-dir"), Seed: c.Uint64("seed"),
		Ctx: c.Int("ctx"), Chunks: c.Int("chunks"), Threads: c.Int("threads"), Sensitivity: c.Bool("sensitivity"),
		Command: commandLine(), Quiet: c.Bool("quiet"), Budget: c.Duration("time-budget")}
	if c.Bool("fast") {
		opt.Budget = 0
	}
	var err error
	if opt.BPW, err = parseFloats(c.String("bpw")); err != nil {
		return fmt.Errorf("--bpw: %w", err)
	}
	if strings.TrimSpace(c.String("types")) != "" {
		if opt.Types, err = parseTypes(c.String("types")); err != nil {
			return err
		}
	}
	for _, m := range strings.Split(c.String("method"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			opt.Methods = append(opt.Methods, m)
		}
	}
	if opt.Sensitivity {
		if opt.SensConfigs, err = report.ParseSensConfigs(c.String("sensitivity-configs")); err != nil {
			return fmt.Errorf("--sensitivity-configs: %w", err)
		}
	}
	ctx, stop := withSignalCleanup(c.Context) // Ctrl-C stops a conversion, as in convert
	defer stop()
	return report.Run(ctx, opt)
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
