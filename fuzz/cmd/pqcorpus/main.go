// Command pqcorpus writes the PocketGGUF robustness corpus into a folder:
// the micro Llama (dense and converted), a minimal PocketGGUF, and every
// malformed variant of both (bad-*.gguf must be refused, odd-*.gguf are
// valid but unusual and must run). scripts/reliability.sh feeds them to the
// sanitizer build of libllama and uses them as libFuzzer seeds.
//
//	go run ./fuzz/cmd/pqcorpus DIR
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pocketgguf/pocketgguf/fuzz/pqcorpus"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pqcorpus:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: pqcorpus DIR")
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dense, pq, err := pqcorpus.Micro(dir)
	if err != nil {
		return err
	}
	if err := os.Rename(dense, filepath.Join(dir, "valid-micro.f32.gguf")); err != nil {
		return err
	}
	if err := os.Rename(pq, filepath.Join(dir, "valid-micro.pq.gguf")); err != nil {
		return err
	}
	micro, err := os.ReadFile(filepath.Join(dir, "valid-micro.pq.gguf"))
	if err != nil {
		return err
	}
	n := 0
	for base, valid := range map[string][]byte{"micro": micro, "minimal": pqcorpus.Minimal(), "minimal-additive": pqcorpus.MinimalAdditive()} {
		cases, err := pqcorpus.Malformed(valid)
		if err != nil {
			return err
		}
		for _, c := range cases {
			kind := "bad"
			if c.Want == nil {
				kind = "odd"
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-%s.gguf", kind, base, c.Name)), c.Data, 0o644); err != nil {
				return err
			}
			n++
		}
	}
	fmt.Printf("pqcorpus: wrote 2 valid and %d malformed files to %s\n", n, dir)
	return nil
}
