package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/progress"
	"github.com/urfave/cli/v2"
)

func init() {
	register(&cli.Command{
		Name:  "eval",
		Usage: "KL divergence of quantized models from a base model (llama-perplexity --kl-divergence statistics)",
		Description: "Files of the fast additive types (pqa_*) compute with 8-bit activation tables, like\n" +
			"llama.cpp's 8-bit activations; GGML_PQA_TABLE_BITS=16 in the environment selects 16-bit ones:\n" +
			"the results of the file's `pocketgguf unpack --type f32` twin to about 1e-5, at about half the\n" +
			"speed (docs/RUNTIME.md).",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "base", Usage: "base (reference) GGUF", Required: true},
			&cli.StringSliceFlag{Name: "model", Aliases: []string{"m"}, Usage: "GGUF to compare with the base (repeatable)", Required: true},
			&cli.StringFlag{Name: "text", Aliases: []string{"f"}, Usage: "evaluation text file", Required: true},
			&cli.IntFlag{Name: "ctx", Aliases: []string{"c"}, Value: 256, Usage: "tokens per chunk; the second half of each chunk is scored"},
			&cli.IntFlag{Name: "chunks", Usage: "evaluate at most this many chunks (0: all)"},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Value: runtime.NumCPU(), Usage: "threads for decoding"},
			&cli.BoolFlag{Name: "json", Usage: "print machine-readable results"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		},
		Action: runEval,
	})
}

func runEval(c *cli.Context) error {
	opt := eval.Options{NCtx: c.Int("ctx"), Chunks: c.Int("chunks")}
	pr := progress.New(os.Stderr, c.Bool("quiet"))
	text, err := os.ReadFile(c.String("text"))
	if err != nil {
		return fmt.Errorf("--text: %w", err)
	}
	res, err := evalModels(c.String("base"), c.StringSlice("model"), c.String("text"), string(text), opt, c.Int("threads"), pr)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.WriteTable(os.Stdout)
}

// evalModels runs the base pass once and compares every model with it,
// loading one model at a time so memory holds at most two.
func evalModels(basePath string, models []string, textPath, text string, opt eval.Options, threads int, pr *progress.Terminal) (eval.Result, error) {
	if err := checkModels(basePath, models); err != nil { // before the base pass, not after it
		return eval.Result{}, err
	}
	opt.Progress = pr.Chunk
	pr.SetLabel(filepath.Base(basePath))
	b, err := llamasrc.ComputeBase(basePath, text, opt, threads)
	if err != nil {
		return eval.Result{}, err
	}
	defer b.Close()
	res := eval.Result{Base: basePath, Text: textPath, NCtx: b.NCtx, Chunks: b.NChunk, PerChunk: b.PerChunk(),
		Encoding: b.Encoding().String(), PPLBase: b.BaseStats()}
	for _, m := range models {
		pr.SetLabel(filepath.Base(m))
		mr, err := llamasrc.CompareFile(b, m, opt, threads)
		if err != nil {
			return res, err
		}
		res.Models = append(res.Models, mr)
	}
	return res, nil
}

// checkModels opens every input as the comparison will: a GGUF whose
// pocket.* keys are valid (format.Read), that libllama loads (mapped, so no
// weights are read), with the base's vocabulary size. A pass over the base
// takes long; a typo in the last --model should not cost it.
func checkModels(basePath string, models []string) error {
	nv, err := loadable(basePath)
	if err != nil {
		return fmt.Errorf("--base %s: %w", basePath, err)
	}
	for _, m := range models {
		n, err := loadable(m)
		if err != nil {
			return fmt.Errorf("--model %s: %w", m, err)
		}
		if n != nv {
			return fmt.Errorf("--model %s: vocabulary of %d tokens, the base has %d", m, n, nv)
		}
	}
	return nil
}

// loadable checks one file and returns its vocabulary size.
func loadable(path string) (int, error) {
	// Our reader first: it bounds-checks every field and names the one that
	// is broken; Ollama's reader under ReadFileInfo logs a bare EOF instead.
	g, err := gguf.Open(path)
	if err != nil {
		return 0, err
	}
	if _, err := eval.ReadFileInfo(path); err != nil {
		g.Close()
		return 0, err
	}
	_, _, err = format.Read(g)
	g.Close()
	if err != nil {
		return 0, err
	}
	m, err := bridge.LoadModel(path, bridge.ModelParams{UseMmap: true})
	if err != nil {
		return 0, err
	}
	defer m.Close()
	return m.Info().NVocab, nil
}
