// Command gohost is a minimal Go host for a PocketGGUF model: it loads the model
// through bridge/ (cgo over the patched libllama, PQ kernels included) and streams
// the generated text to stdout as it comes.
//
//	cmake -S . -B build/native -G Ninja && cmake --build build/native -j2
//	go run ./examples/gohost -m model.pq.gguf -p "Once upon a time" -n 64
//
// The model may be a PocketGGUF or any GGUF the vendored llama.cpp loads.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/pocketgguf/pocketgguf/bridge"
)

// options are the command-line flags, named like llama-cli's.
type options struct {
	model   string
	prompt  string
	predict int
	ctx     int
	threads int
	temp    float64
	seed    uint
}

func main() {
	var o options
	flag.StringVar(&o.model, "m", "", "model file (GGUF or PocketGGUF)")
	flag.StringVar(&o.prompt, "p", "Once upon a time", "prompt")
	flag.IntVar(&o.predict, "n", 64, "tokens to generate")
	flag.IntVar(&o.ctx, "c", 512, "context length")
	flag.IntVar(&o.threads, "t", 0, "threads (0: all cores)")
	flag.Float64Var(&o.temp, "temp", 0, "temperature (0: greedy)")
	flag.UintVar(&o.seed, "seed", 42, "sampling seed")
	flag.Parse()
	if o.model == "" {
		fmt.Fprintln(os.Stderr, "gohost: -m MODEL is required")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gohost:", err)
		os.Exit(1)
	}
}

// run loads the model, streams the completion of the prompt to out and a
// one-line summary (tokens, rate) to info.
func run(ctx context.Context, o options, out, info io.Writer) (bridge.GenerateResult, error) {
	m, err := bridge.LoadModel(o.model, bridge.ModelParams{})
	if err != nil {
		return bridge.GenerateResult{}, fmt.Errorf("load %s: %w", o.model, err)
	}
	defer m.Close()
	c, err := m.NewContext(bridge.ContextParams{NCtx: o.ctx, Threads: o.threads})
	if err != nil {
		return bridge.GenerateResult{}, err
	}
	defer c.Close()

	fmt.Fprintf(info, "%s: %s\n", o.model, m.Info().Description)
	fmt.Fprint(out, o.prompt)
	start := time.Now()
	res, err := c.Generate(ctx, o.prompt, bridge.GenerateOptions{
		NPredict: o.predict,
		Sampler:  bridge.SamplerParams{Temp: float32(o.temp), Seed: uint32(o.seed)},
	}, func(piece string) error {
		_, err := io.WriteString(out, piece)
		return err
	})
	fmt.Fprintln(out)
	if err != nil {
		return res, err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(info, "%d prompt + %d generated tokens in %.2fs (%.1f tokens/s overall), stop: %s\n",
		res.PromptTokens, res.Tokens, secs, float64(res.Tokens)/secs, res.Stop)
	return res, nil
}
