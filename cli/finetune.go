package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pocketgguf/pocketgguf/finetune"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/recipe"
)

func init() {
	register(&cli.Command{
		Name:      "finetune",
		Usage:     "tune a PocketGGUF's codebooks, row scales and norms so its next-token distributions match the original's (llama architecture; sizes unchanged)",
		ArgsUsage: "ORIGINAL.gguf POCKET.gguf OUT.gguf",
		Flags: append(append(finetuneFlags(), calibFlags("text to tune on (default: text sampled from the original, as convert --calib-self)")...),
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the sampled text and of the batch order"},
			&cli.IntFlag{Name: "threads", Usage: "worker threads", DefaultText: "all cores; does not change the output"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		),
		Action: runFinetune,
	})
}

// finetuneFlags are shared by finetune and convert --finetune.
func finetuneFlags() []cli.Flag {
	d := finetune.DefaultOptions()
	return []cli.Flag{
		&cli.IntFlag{Name: "finetune-epochs", Value: d.Epochs, Usage: "fine-tuning passes over the calibration chunks", DefaultText: fmt.Sprintf("convert: as many as --time-budget allows, at most %d (--fast: %d); finetune: %d", recipe.MaxEpochs, d.Epochs, d.Epochs)},
		&cli.Float64Flag{Name: "finetune-lr", Value: d.LR, Usage: "fine-tuning Adam step, relative to each parameter group's RMS"},
		&cli.IntFlag{Name: "finetune-batch", Value: d.Batch, Usage: "calibration chunks per fine-tuning step"},
		&cli.Float64Flag{Name: "finetune-code-lr", Value: d.CodeLR, Usage: "also move indices (straight-through shadow weights stepped at this rate relative to each tensor's RMS); 0: indices stay"},
	}
}

func finetuneOptions(c *cli.Context) (finetune.Options, error) {
	o := finetune.DefaultOptions()
	o.Epochs, o.LR, o.Batch, o.CodeLR = c.Int("finetune-epochs"), c.Float64("finetune-lr"), c.Int("finetune-batch"), c.Float64("finetune-code-lr")
	o.Threads, o.Seed = threadsOf(c), c.Uint64("seed")
	switch {
	case o.Epochs < 1:
		return o, fmt.Errorf("--finetune-epochs %d: want at least 1", o.Epochs)
	case !(o.LR > 0 && o.LR < 1):
		return o, fmt.Errorf("--finetune-lr %v: want a step between 0 and 1", o.LR)
	case !(o.CodeLR >= 0 && o.CodeLR < 1):
		return o, fmt.Errorf("--finetune-code-lr %v: want 0 (off) or a step below 1", o.CodeLR)
	case o.Batch < 1:
		return o, fmt.Errorf("--finetune-batch %d: want at least 1", o.Batch)
	}
	if !c.Bool("quiet") {
		o.Log = func(line string) { fmt.Fprintln(os.Stderr, line) }
	}
	return o, nil
}

func runFinetune(c *cli.Context) error {
	args, err := parseTrailingFlags(c)
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	if len(args) != 3 {
		return fmt.Errorf("finetune: want ORIGINAL.gguf POCKET.gguf OUT.gguf, got %d arguments", len(args))
	}
	o, err := finetuneOptions(c)
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	g, err := gguf.Open(args[0])
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	shape := recipe.ShapeOf(g, recipe.DefaultGPTQMaxCols)
	g.Close()
	plan := recipe.Plan{Source: recipe.SourceSelf, Ctx: c.Int("calib-ctx"), Chunks: c.Int("calib-chunks"), Epochs: o.Epochs}
	var why string
	plan.FixedIndices, why = shape.FixedIndices(recipe.ToggleOf(c.IsSet("finetune-code-lr"), o.CodeLR > 0))
	if why != "" && !c.Bool("quiet") {
		fmt.Fprintln(os.Stderr, "finetune: "+strings.TrimPrefix(why, "fine-tuning: "))
	}
	if t := c.String("calib-text"); t != "" {
		plan.Source, plan.TextPath = recipe.SourceText, t
	}
	ctx, stop := withSignalCleanup(c.Context)
	defer stop()
	start := time.Now()
	job := recipe.Job{In: args[0], Out: args[2], Plan: plan, Finetune: o, Calib: calibOptions(c)}
	rep, err := recipe.Tune(ctx, job, args[1])
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("finetune: interrupted; %s not written", args[2])
		}
		return fmt.Errorf("finetune: %w", err)
	}
	fmt.Printf("finetune: %s, in %s\n", rep.String(o.Epochs), time.Since(start).Round(time.Millisecond))
	return nil
}

// threadsOf is --threads, or all cores when unset.
func threadsOf(c *cli.Context) int {
	if t := c.Int("threads"); t > 0 {
		return t
	}
	return runtime.NumCPU()
}
