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

	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/calib/llamacalib"
	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/progress"
	"github.com/pocketgguf/pocketgguf/quant"
	"github.com/urfave/cli/v2"
)

// gptqCovBudget caps the memory of the input covariances --gptq collects.
const gptqCovBudget = 2 << 30

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
			&cli.IntFlag{Name: "gptq-max-cols", Value: 4096, Usage: "GPTQ only for weights whose input is at most this wide (covariances are cols² float64 each, 2 GiB in all at most)"},
			&cli.BoolFlag{Name: "keep-embeddings", Usage: "never PQ-compress token_embd.weight / output.weight"},
			&cli.BoolFlag{Name: "compress-embeddings", Usage: "always PQ-compress token_embd.weight / output.weight"},
			&cli.StringFlag{Name: "output-tensor-type", Usage: "type of output.weight: f32, f16, bf16, q8_0 or a PQ type (pq_4x8, pqa_4x8, ...)"},
			&cli.StringFlag{Name: "token-embedding-type", Usage: "type of token_embd.weight: f32, f16, bf16, q8_0 or a PQ type"},
			&cli.BoolFlag{Name: "resume", Usage: "keep per-table and per-tensor checkpoints in OUT.partial/ and continue an interrupted conversion with the same input and flags (same bytes as an uninterrupted run)"},
			&cli.BoolFlag{Name: "finetune", Usage: "after converting, tune codebooks, row scales and norms end to end against the input model on the calibration text (llama architecture; implies --calib-self without --calib-text; same size)"},
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
	if c.Bool("finetune") {
		if _, err := finetuneOptions(c); err != nil { // before any calibration work
			return fmt.Errorf("convert: %w", err)
		}
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
	var calibText string // what --finetune tunes on
	if t := c.String("calib-text"); t != "" || c.Bool("calib-self") || c.Bool("finetune") {
		if opt.Imatrix != "" {
			return fmt.Errorf("convert: --imatrix and --calib-text/--calib-self both give an importance matrix; use one")
		}
		if t != "" && c.Bool("calib-self") {
			return fmt.Errorf("convert: --calib-text and --calib-self: use one")
		}
		covCols := 0
		if c.Bool("gptq") {
			if covCols = c.Int("gptq-max-cols"); covCols < 1 {
				return fmt.Errorf("convert: --gptq-max-cols %d: want a positive width", covCols)
			}
		}
		co := calibOptions(c)
		co.CovMaxCols, co.CovBudget = covCols, gptqCovBudget
		source := "text sampled from the model (--calib-self)"
		if t != "" {
			calibText, err = readCalibText(t)
			source = "--calib-text " + t
		} else {
			calibText, err = selfCalibText(c, in)
			co.Chunks = 0 // all of the sampled text
		}
		var st *calib.Stats
		if err == nil {
			st, err = llamacalib.Collect(in, calibText, source, co)
		}
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		opt.ImatrixData, opt.InputCovariance = st.Imatrix, st.Covariance
	}
	ctx, stop := withSignalCleanup(c.Context)
	defer stop()
	opt.TempCreated = registerTemp
	start := time.Now()
	final := out
	if c.Bool("finetune") {
		// Convert into a scratch file beside OUT; fine-tuning then writes OUT
		// itself, so OUT appears only once both steps succeeded. The name is
		// gguf.CreateAtomic's temporary pattern, so a later write to OUT
		// removes it if this process is killed before it can.
		out = filepath.Join(filepath.Dir(final), fmt.Sprintf(".%s.tmp-%d-prefinetune", filepath.Base(final), os.Getpid()))
		opt.CheckpointFor = final // --resume keeps OUT.partial/ across runs
		defer os.Remove(out)
	}
	res, err := converter.Convert(ctx, in, out, opt)
	pr.Finish()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("convert: interrupted; %s not written", final)
		}
		return fmt.Errorf("convert: %w", err)
	}
	if out != final {
		registerTemp(out)
		if err := runFinetuneOn(ctx, c, in, out, final, calibText); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		out = final
	}
	fmt.Printf("wrote %s: %d bytes, %.3f bits per weight (whole file, %d weights), %.2fx smaller than F16 (%d bytes), %.2fx smaller than the input, in %s\n",
		out, res.OutputBytes, res.BPW, res.Elements, res.RatioF16(), res.F16Bytes, float64(res.InputBytes)/float64(res.OutputBytes), time.Since(start).Round(time.Millisecond))
	return nil
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
