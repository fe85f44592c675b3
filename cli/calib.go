package main

import (
	"fmt"
	"os"

	"github.com/pocketgguf/pocketgguf/calib"
	"github.com/pocketgguf/pocketgguf/calib/llamacalib"
	"github.com/urfave/cli/v2"
)

// calibFlags are the calibration-text flags convert and finetune share.
func calibFlags(textUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "calib-text", Usage: textUsage},
		&cli.IntFlag{Name: "calib-chunks", Value: calib.DefaultChunks, Usage: "at most this many --calib-text chunks of --calib-ctx tokens (0: all); with --calib-self, how many to sample"},
		&cli.IntFlag{Name: "calib-ctx", Value: calib.DefaultCtx, Usage: "tokens per calibration chunk"},
	}
}

// calibOptions are the calibration flags of c as typed options.
func calibOptions(c *cli.Context) llamacalib.Options {
	return llamacalib.Options{Ctx: c.Int("calib-ctx"), Chunks: c.Int("calib-chunks"), Threads: c.Int("threads"), Quiet: c.Bool("quiet")}
}

// readCalibText reads the file --calib-text names.
func readCalibText(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--calib-text: %w", err)
	}
	return string(b), nil
}

// selfCalibText is --calib-self's text: sampled from model with --seed.
func selfCalibText(c *cli.Context, model string) (string, error) {
	return llamacalib.SelfText(model, uint32(c.Uint64("seed")), calibOptions(c))
}
