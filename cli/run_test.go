package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runCLI runs the command line in-process and returns what it printed to stdout.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	app := &cli.App{Name: "pocketgguf", Commands: commands, ErrWriter: io.Discard}
	err = app.Run(append([]string{"pocketgguf"}, args...))
	w.Close()
	os.Stdout = stdout
	return <-done, err
}

func TestRunStreamsText(t *testing.T) {
	model := filepath.Join("..", "..", "shared", "testdata", "models", "stories260K.gguf")
	if _, err := os.Stat(model); err != nil {
		t.Skipf("test model absent: %v", err)
	}
	// Flags after MODEL, as with llama-cli.
	out, err := runCLI(t, "run", model, "-p", "Once upon a time", "-n", "16", "--temp", "0", "--threads", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "Once upon a time, there was a little girl named Lily") {
		t.Fatalf("greedy run printed %q", out)
	}
	a, err := runCLI(t, "run", "--seed", "5", "-n", "24", "--threads", "1", model)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := runCLI(t, "run", model, "--seed", "5", "-n", "24", "--threads", "1")
	if a != b || len(a) < 24 {
		t.Fatalf("same seed, flags before/after MODEL: %q vs %q", a, b)
	}
}

func TestRunErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", filepath.Join(t.TempDir(), "missing.gguf")},
		{"run", "a.gguf", "b.gguf"},
		{"run", "a.gguf", "--top-p", "1.5"},
		{"run", "a.gguf", "--no-such-flag"},
	} {
		if _, err := runCLI(t, args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
