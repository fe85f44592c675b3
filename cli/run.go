package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"time"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/urfave/cli/v2"
)

// run: generate text with libllama through the bridge, like llama-cli -p/-n.
func init() {
	register(&cli.Command{
		Name:  "run",
		Usage: "generate text from a GGUF or PocketGGUF model (streams to stdout)",
		Description: "Files of the fast additive types (pqa_*) compute with 8-bit activation tables, like\n" +
			"llama.cpp's 8-bit activations; GGML_PQA_TABLE_BITS=16 in the environment selects 16-bit ones:\n" +
			"the results of the file's `pocketgguf unpack --type f32` twin to about 1e-5, at about half the\n" +
			"speed (docs/RUNTIME.md).",
		ArgsUsage: "MODEL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "prompt text (empty: start from BOS)"},
			&cli.IntFlag{Name: "n-predict", Aliases: []string{"n"}, Value: 128, Usage: "tokens to generate (-1: until end of text or full context)"},
			&cli.UintFlag{Name: "seed", Aliases: []string{"s"}, Value: 0, Usage: "sampling seed"},
			&cli.Float64Flag{Name: "temp", Value: 0.8, Usage: "temperature (0: greedy)"},
			&cli.IntFlag{Name: "top-k", Value: 40, Usage: "top-k sampling (0: off)"},
			&cli.Float64Flag{Name: "top-p", Value: 0.95, Usage: "top-p sampling (1: off)"},
			&cli.Float64Flag{Name: "min-p", Value: 0.05, Usage: "min-p sampling (0: off)"},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "compute threads (0: all cores)"},
			&cli.IntFlag{Name: "ctx-size", Aliases: []string{"c", "ctx"}, Value: 2048, Usage: "context length (0: the model's)"},
			&cli.StringFlag{Name: "flash-attn", Aliases: []string{"fa"}, Value: "off", Usage: "flash attention: on, off or auto"},
			&cli.BoolFlag{Name: "no-mmap", Usage: "read the model instead of mapping it"},
			&cli.BoolFlag{Name: "verbose", Usage: "print llama.cpp's log to stderr"},
		},
		Action: runAction,
	})
}

func runAction(c *cli.Context) error {
	args, err := parseTrailingFlags(c)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if len(args) != 1 {
		return fmt.Errorf("run: want one MODEL argument, got %d: %q", len(args), args)
	}
	for _, f := range []string{"top-p", "min-p"} {
		if v := c.Float64(f); v < 0 || v > 1 {
			return fmt.Errorf("run: --%s %v outside [0,1]", f, v)
		}
	}
	if c.Float64("temp") < 0 || c.Int("threads") < 0 || c.Int("ctx-size") < 0 || c.Int("top-k") < 0 {
		return fmt.Errorf("run: --temp, --threads, --ctx-size and --top-k must not be negative")
	}
	if c.Bool("verbose") {
		bridge.SetLogger(func(l bridge.LogLevel, s string) { fmt.Fprintf(os.Stderr, "llama.cpp %s: %s\n", l, s) })
	}
	model, err := bridge.LoadModel(args[0], bridge.ModelParams{UseMmap: !c.Bool("no-mmap")})
	if err != nil {
		return err
	}
	defer model.Close()
	nCtx := c.Int("ctx-size")
	if t := model.Info().NCtxTrain; nCtx == 0 || nCtx > t {
		nCtx = t
	}
	lctx, err := model.NewContext(bridge.ContextParams{NCtx: nCtx, Threads: c.Int("threads"), FlashAttn: c.String("flash-attn")})
	if err != nil {
		return err
	}
	defer lctx.Close()

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
	defer stop()
	opts := bridge.GenerateOptions{
		NPredict: c.Int("n-predict"),
		Sampler: bridge.SamplerParams{
			Temp: float32(c.Float64("temp")), TopK: c.Int("top-k"), TopP: float32(c.Float64("top-p")),
			MinP: float32(c.Float64("min-p")), Seed: uint32(c.Uint("seed")),
		},
	}
	prompt := c.String("prompt")
	fmt.Print(prompt)
	start := time.Now()
	res, err := lctx.Generate(ctx, prompt, opts, func(piece string) error {
		_, err := fmt.Print(piece)
		return err
	})
	fmt.Println()
	if err != nil {
		if ctx.Err() != nil && c.Context.Err() == nil {
			err = fmt.Errorf("interrupted after %d tokens", res.Tokens)
		}
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "%d prompt + %d generated tokens in %.2fs (%.1f tokens/s), stop: %s\n",
		res.PromptTokens, res.Tokens, secs, float64(res.Tokens)/secs, res.Stop)
	return nil
}

// parseTrailingFlags applies flags written after arguments (`run MODEL -p
// text`; urfave/cli v2 stops parsing flags at the first argument) and returns
// the arguments alone.
func parseTrailingFlags(c *cli.Context) ([]string, error) {
	args := c.Args().Slice()
	if len(args) < 2 {
		return args, nil
	}
	set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(set); err != nil {
			return nil, err
		}
	}
	positional := args[:1]
	rest := args[1:]
	for len(rest) > 0 {
		if err := set.Parse(rest); err != nil {
			return nil, err
		}
		rest = set.Args()
		if len(rest) > 0 { // an argument between flags
			positional = append(positional, rest[0])
			rest = rest[1:]
		}
	}
	// Set every name of each flag: cli reads a flag under its main name, while
	// the user may have written an alias.
	var err error
	set.Visit(func(f *flag.Flag) {
		for _, cf := range c.Command.Flags {
			if !slices.Contains(cf.Names(), f.Name) {
				continue
			}
			for _, name := range cf.Names() {
				if e := c.Set(name, f.Value.String()); e != nil && err == nil {
					err = e
				}
			}
		}
	})
	return positional, err
}
