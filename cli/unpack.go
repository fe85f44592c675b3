package main

import (
	"fmt"
	"os"

	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/progress"
	"github.com/urfave/cli/v2"
)

func init() {
	register(&cli.Command{
		Name:      "unpack",
		Usage:     "rebuild dense weights of a PocketGGUF into a standard GGUF that stock llama.cpp / Ollama load",
		ArgsUsage: "IN.gguf OUT.gguf",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Value: "f16", Usage: "type of the rebuilt tensors: f32, f16 or q8_0"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		},
		Action: func(c *cli.Context) error {
			args, err := parseTrailingFlags(c)
			if err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
			if len(args) != 2 {
				return fmt.Errorf("unpack: want IN.gguf OUT.gguf, got %d arguments", len(args))
			}
			ty, ok := gguf.ParseType(c.String("type"))
			if !ok || (ty != gguf.TypeF32 && ty != gguf.TypeF16 && ty != gguf.TypeQ8_0) {
				return fmt.Errorf("unpack: --type %q: want f32, f16 or q8_0", c.String("type"))
			}
			pr := progress.New(os.Stderr, c.Bool("quiet"))
			ctx, stop := withSignalCleanup(c.Context)
			defer stop()
			err = converter.Unpack(ctx, args[0], args[1], ty, pr)
			pr.Finish()
			if err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
			fmt.Printf("wrote %s\n", args[1])
			return nil
		},
	})
}
