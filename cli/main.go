// Command pocketgguf converts GGUF models to PocketGGUF and evaluates them.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/urfave/cli/v2"
)

// commands is filled by each command's own file (convert.go, inspect.go, ...)
// through register, so that adding a command never touches this file.
var commands []*cli.Command

func register(c *cli.Command) { commands = append(commands, c) }

func main() {
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
	app := &cli.App{
		Name:     "pocketgguf",
		Usage:    "PocketLLM meta-network compression for GGUF models",
		Commands: commands,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "pocketgguf:", err)
		os.Exit(1)
	}
}
