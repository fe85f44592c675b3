package main

import (
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
