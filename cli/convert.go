package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/progress"
	"github.com/pocketgguf/pocketgguf/quant"
	"github.com/pocketgguf/pocketgguf/recipe"
	"github.com/urfave/cli/v2"
)

func init() {
	register(&cli.Command{
		Name:      "convert",
		Usage:     "compress a GGUF (f32/f16/bf16, q8_0 with a warning) into a PocketGGUF",
		ArgsUsage: "IN.gguf OUT.gguf",
		Flags: append([]cli.Flag{
			&cli.Float64Flag{Name: "bpw", DefaultText: "none: pqa_4x8 (--prefer quality: pq_4x8) for every block weight", Usage: "target whole-file bits per weight (every byte counts: indices, tables, scales, copied tensors, metadata); the allocator picks types, K and sharing per tensor"},
			&cli.StringFlag{Name: "prefer", Value: converter.PreferSpeed.String(), Usage: "speed: PQ tensors get the additive types pqa_4x8, pqa_4x12, pqa_8x8, pqa_8x12 (pqa_8x16 with --codebook-bits 16), 4-bit codes into 16-entry codebooks that the kernels look up in registers; quality: the plain pq_* types (one free codebook of 2^bits entries: lower error at the same bits, slower kernels; the files of earlier versions). --method pocketllm, --codebook-size above 16, or --vec-len/--codebook-bits that no additive type has imply quality unless --prefer is given"},
			&cli.IntFlag{Name: "vec-len", Usage: "sub-vector length v: 2, 4 or 8 (additive types: 4 or 8)", DefaultText: "allocator's choice with --bpw, else 4"},
			&cli.IntFlag{Name: "codebook-bits", Usage: "index bits per sub-vector: 8, 12 or 16 (additive types: 4 per codebook; the allocator uses 16 only when asked: 65536-entry tables train slowly)", DefaultText: "allocator's choice with --bpw, else 8"},
			&cli.IntFlag{Name: "codebook-size", Usage: "codebook entries K, at most 2^codebook-bits (additive types: per codebook, at most 16)", DefaultText: "2^bits or 16, or the allocator's choice"},
			&cli.StringFlag{Name: "method", Usage: "table training: kmeans or pocketllm (codebook + decoder)", DefaultText: quant.DefaultMethod},
			&cli.IntFlag{Name: "hidden", Usage: "decoder hidden width", DefaultText: "16"},
			&cli.IntFlag{Name: "epochs", Usage: "training epochs", DefaultText: "pocketllm 50, kmeans 25 iterations"},
			&cli.Float64Flag{Name: "lr", Usage: "pocketllm learning rate", DefaultText: "1.6e-2"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "training seed (same seed and flags give the same bytes)"},
			&cli.IntFlag{Name: "threads", Usage: "worker threads", DefaultText: "all cores; does not change the output"},
			&cli.StringFlag{Name: "sharing", Value: "auto", Usage: "table sharing: auto, tensor, kind (same tensor across layers) or model"},
			&cli.StringFlag{Name: "row-scale", Value: "auto", Usage: "per-row f16 scales: auto (when they cost <5% of the indices), on, off"},
			&cli.StringFlag{Name: "imatrix", Usage: "llama.cpp importance matrix (GGUF or legacy .dat) to weight reconstruction error by input activations"},
			&cli.BoolFlag{Name: "calib-self", Usage: "data-free calibration: sample --calib-chunks texts of --calib-ctx tokens from the input model itself (through the linked llama.cpp) and use them as --calib-text"},
			&cli.BoolFlag{Name: "gptq", Value: true, Usage: "with --calib-text: assign sub-vectors with GPTQ error feedback through each weight's input covariance (--gptq=false: importance weighting only)"},
			&cli.IntFlag{Name: "gptq-max-cols", Value: recipe.DefaultGPTQMaxCols, Usage: "GPTQ only for weights whose input is at most this wide (covariances are cols² float64 each, 2 GiB in all at most)"},
			&cli.BoolFlag{Name: "keep-embeddings", Usage: "never PQ-compress token_embd.weight / output.weight"},
			&cli.BoolFlag{Name: "compress-embeddings", Usage: "always PQ-compress token_embd.weight / output.weight"},
			&cli.StringFlag{Name: "output-tensor-type", Usage: "type of output.weight: f32, f16, bf16, q8_0 or a PQ type (pq_4x8, pqa_4x8, ...)"},
			&cli.StringFlag{Name: "token-embedding-type", Usage: "type of token_embd.weight: f32, f16, bf16, q8_0 or a PQ type"},
			&cli.BoolFlag{Name: "resume", Usage: "keep per-table and per-tensor checkpoints in OUT.partial/ and continue an interrupted conversion with the same input and flags (same bytes as an uninterrupted run)"},
			&cli.BoolFlag{Name: "finetune", Usage: "after converting, tune codebooks, row scales and norms end to end against the input model on the calibration text (llama architecture; implies --calib-self without --calib-text; same size)"},
			&cli.DurationFlag{Name: "time-budget", Value: recipe.DefaultBudget, Usage: "run the strongest recipe whose estimated time fits: self-calibration, GPTQ, fine-tuning epochs, as far as they fit; flags that name a step pin it (estimates are for a 2-core reference machine, so the output does not depend on the machine)"},
			&cli.BoolFlag{Name: "fast", Usage: "a plain conversion: no self-calibration, GPTQ or fine-tuning unless their own flags ask for them"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		}, append(calibFlags("collect the importance matrix over this text with the input model (through the linked llama.cpp) instead of --imatrix"), finetuneFlags()...)...),
		Action: runConvert,
	})
}

func runConvert(c *cli.Context) error {
	args, err := parseTrailingFlags(c) // `convert IN OUT --bpw 4`, as llama-quantize takes flags anywhere
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if len(args) != 2 {
		return fmt.Errorf("convert: want IN.gguf OUT.gguf, got %d arguments", len(args))
	}
	in, out := args[0], args[1]
	if _, err := os.Stat(in); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if c.IsSet("bpw") && c.Float64("bpw") == 0 { // Options.BPW 0 means "not set"; negatives: Options.check
		return fmt.Errorf("--bpw 0: must be positive")
	}
	pr := progress.New(os.Stderr, c.Bool("quiet"))
	opt := converter.Options{
		BPW: c.Float64("bpw"), VecLen: c.Int("vec-len"), CodebookBits: c.Int("codebook-bits"), CodebookSize: c.Int("codebook-size"),
		Hidden: c.Int("hidden"), Epochs: c.Int("epochs"), LR: c.Float64("lr"),
		Seed: c.Uint64("seed"), Threads: c.Int("threads"),
		Imatrix: c.String("imatrix"), KeepEmbeddings: c.Bool("keep-embeddings"), CompressEmbeddings: c.Bool("compress-embeddings"),
		OutputTensorType: c.String("output-tensor-type"), TokenEmbeddingType: c.String("token-embedding-type"),
		Resume: c.Bool("resume"), Events: pr,
	}
	var flagErrs [4]error // the typed flags, parsed (so checked) here once; the first error wins
	opt.Sharing, flagErrs[0] = converter.ParseSharing(c.String("sharing"))
	opt.RowScale, flagErrs[1] = converter.ParseRowScale(c.String("row-scale"))
	opt.Method, flagErrs[2] = converter.ParseMethod(c.String("method"))
	opt.Prefer, flagErrs[3] = converter.ParsePrefer(c.String("prefer"))
	if err := cmp.Or(flagErrs[:]...); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if !c.IsSet("prefer") && impliesQuality(c) {
		opt.Prefer = converter.PreferQuality
	}
	if err := checkCalibFlags(c); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := checkWritable(out); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	g, err := gguf.Open(in)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	shape := recipe.ShapeOf(g, c.Int("gptq-max-cols"))
	err = converter.Check(g, opt)
	g.Close()
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	plan := recipe.Choose(shape, recipeRequest(c, opt.Imatrix != ""))
	if !c.Bool("quiet") {
		fmt.Fprintln(os.Stderr, plan)
	}
	fo, err := finetuneOptions(c)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	ctx, stop := withSignalCleanup(c.Context)
	defer stop()
	opt.TempCreated = registerTemp
	job := recipe.Job{In: in, Out: out, Plan: plan, Convert: opt, Finetune: fo, Calib: calibOptions(c),
		GPTQMaxCols: c.Int("gptq-max-cols"), Scratch: registerTemp}
	res, err := recipe.Run(ctx, job)
	pr.Finish()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("convert: interrupted; %s not written", out)
		}
		return fmt.Errorf("convert: %w", err)
	}
	if ft := res.Finetune; ft != nil {
		fmt.Printf("finetune: %s\n", ft.String(plan.Epochs))
	}
	r := res.Convert
	fmt.Printf("wrote %s: %d bytes, %.3f bits per weight (whole file, %d weights), %.2fx smaller than F16 (%d bytes), %.2fx smaller than the input, in %s\n",
		out, r.OutputBytes, r.BPW, r.Elements, r.RatioF16(), r.F16Bytes, float64(r.InputBytes)/float64(r.OutputBytes), res.Elapsed.Round(time.Millisecond))
	return nil
}

// checkWritable refuses an OUT whose folder is missing or read-only before
// any long work (calibration and fine-tuning can take hours).
func checkWritable(out string) error {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".check-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", out, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// checkCalibFlags refuses contradicting calibration flags before any work.
func checkCalibFlags(c *cli.Context) error {
	pinsCalib := c.String("calib-text") != "" || c.Bool("calib-self") || c.Bool("finetune")
	switch {
	case c.String("imatrix") != "" && pinsCalib:
		return fmt.Errorf("--imatrix and --calib-text/--calib-self/--finetune both give an importance matrix; use one")
	case c.String("calib-text") != "" && c.Bool("calib-self"):
		return fmt.Errorf("--calib-text and --calib-self: use one")
	case c.Bool("gptq") && c.Int("gptq-max-cols") < 1:
		return fmt.Errorf("--gptq-max-cols %d: want a positive width", c.Int("gptq-max-cols"))
	case c.Duration("time-budget") < 0:
		return fmt.Errorf("--time-budget %s: want a positive duration (or --fast)", c.Duration("time-budget"))
	case c.IsSet("calib-chunks") && c.Int("calib-chunks") < 0:
		return fmt.Errorf("--calib-chunks %d: want at least 1, or 0 for all of --calib-text", c.Int("calib-chunks"))
	case c.IsSet("calib-chunks") && c.Int("calib-chunks") == 0 && c.String("calib-text") == "":
		return fmt.Errorf("--calib-chunks 0 (all of the text) needs --calib-text; self-calibration samples at least 1 chunk")
	}
	return nil
}

// recipeRequest turns the flags into what recipe.Choose needs: the budget
// (0 under --fast) and the steps that flags pin; what they leave open the
// budget decides.
func recipeRequest(c *cli.Context, imatrix bool) recipe.Request {
	r := recipe.Request{
		Budget:   c.Duration("time-budget"),
		Ctx:      c.Int("calib-ctx"),
		GPTQ:     recipe.ToggleOf(c.IsSet("gptq"), c.Bool("gptq")),
		Finetune: recipe.ToggleOf(c.IsSet("finetune"), c.Bool("finetune")),
		Imatrix:  imatrix,
	}
	if c.Bool("fast") {
		r.Budget = 0
	}
	if c.IsSet("calib-chunks") {
		r.Chunks = c.Int("calib-chunks")
		r.AllText = r.Chunks == 0 // checkCalibFlags allows 0 with --calib-text only
	}
	if c.IsSet("finetune-epochs") {
		r.Epochs = c.Int("finetune-epochs")
	}
	if c.IsSet("finetune-code-lr") {
		r.MoveIndices = recipe.ToggleOf(true, c.Float64("finetune-code-lr") > 0)
	}
	switch {
	case c.String("calib-text") != "":
		r.Source, r.TextPath = recipe.SourceText, c.String("calib-text")
	case c.Bool("calib-self"):
		r.Source = recipe.SourceSelf
	}
	return r
}

// Signal handling: SIGINT/SIGTERM cancel the context, which the converter
// checks between tensors and tables. A table can take a while to train, so a
// watchdog also removes the temporary file and exits if the converter has not
// returned within a few seconds: nothing partial is ever left behind.
var (
	tempMu   sync.Mutex
	tempPath string
)

func registerTemp(p string) {
	tempMu.Lock()
	tempPath = p
	tempMu.Unlock()
}

func withSignalCleanup(parent context.Context) (context.Context, func()) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		select {
		case <-done:
			return
		case <-time.After(3 * time.Second):
		}
		tempMu.Lock()
		if tempPath != "" {
			os.Remove(tempPath)
		}
		tempMu.Unlock()
		fmt.Fprintln(os.Stderr, "pocketgguf: interrupted")
		os.Exit(130)
	}()
	return ctx, func() { close(done); stop() }
}

// impliesQuality is true when the flags ask for something only the plain PQ types offer, so that
// an explicit request is honoured instead of refused under the default --prefer speed: PocketLLM
// decoders (trained for plain tables), a codebook larger than 16 entries, or a --vec-len /
// --codebook-bits pair with no additive twin (e.g. pq_2x8, pq_4x16).
func impliesQuality(c *cli.Context) bool {
	if c.String("method") == quant.MethodPocketLLM || c.Int("codebook-size") > 16 {
		return true
	}
	if !c.IsSet("vec-len") && !c.IsSet("codebook-bits") {
		return false
	}
	for _, t := range format.PQTypes {
		if t.Additive() && (!c.IsSet("vec-len") || t.V == c.Int("vec-len")) && (!c.IsSet("codebook-bits") || t.IndexBits == c.Int("codebook-bits")) {
			return false
		}
	}
	return true
}
