package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/eval"
)

// TestCalibrationLowersKLD converts stories260K at 3 whole-file bpw four
// ways and measures each against the original on held-out text:
// calibration with GPTQ error feedback must beat the same calibration
// without it, and data-free --calib-self (GPTQ on text the model samples)
// must beat no calibration at all.
func TestCalibrationLowersKLD(t *testing.T) {
	r := newCalibRun(t)
	// Plain types: the thresholds below were measured on them; the speed plan's gains are
	// held by TestSpeedPlanCalibrated (speed_calib_test.go).
	q := []string{"--prefer", "quality"}
	kld := r.klds(
		q,
		append(q, "--calib-text", r.calib, "--gptq=false"),
		append(q, "--calib-text", r.calib),
		append(q, "--calib-self"),
	)
	t.Logf("3 bpw mean KLD: none %.3f, imatrix only %.3f, gptq %.3f, calib-self %.3f", kld[0], kld[1], kld[2], kld[3])
	if kld[2] >= 0.9*kld[1] {
		t.Errorf("GPTQ KLD %.3f not 10%% below the same calibration without it (%.3f)", kld[2], kld[1])
	}
	if kld[3] >= 0.9*kld[0] {
		t.Errorf("--calib-self KLD %.3f not 10%% below no calibration (%.3f)", kld[3], kld[0])
	}
}

// calibRun compares conversions of stories260K at 3 whole-file bpw with
// calibration settings held fixed (40 chunks of 256 tokens, one thread).
type calibRun struct {
	t                  *testing.T
	model, text, calib string // calib: the text's tail, disjoint from the scored chunks
	dir                string
}

func newCalibRun(t *testing.T) *calibRun {
	r := &calibRun{t: t, model: sharedFile(t, "models/stories260K.gguf"), text: sharedFile(t, "text/tinystories_val_a.txt"), dir: t.TempDir()}
	all, err := os.ReadFile(r.text)
	if err != nil {
		t.Fatal(err)
	}
	r.calib = filepath.Join(r.dir, "calib.txt")
	if err := os.WriteFile(r.calib, all[len(all)-150000:], 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// klds converts the model once per flag set and returns each file's mean
// KLD against the original on 8 chunks of the held-out text.
func (r *calibRun) klds(flagSets ...[]string) []float64 {
	t := r.t
	evalArgs := []string{"eval", "--base", r.model}
	for i, flags := range flagSets {
		out := filepath.Join(r.dir, fmt.Sprintf("m%d.gguf", i))
		args := append([]string{"convert", "--fast", "-q", "--bpw", "3", "--threads", "1", "--calib-ctx", "256", "--calib-chunks", "40"}, flags...)
		if _, err := runCLI(t, append(args, r.model, out)...); err != nil {
			t.Fatalf("convert %v: %v", flags, err)
		}
		evalArgs = append(evalArgs, "--model", out)
	}
	out, err := runCLI(t, append(evalArgs, "--text", r.text, "--chunks", "8", "--threads", "1", "--json", "-q")...)
	if err != nil {
		t.Fatal(err)
	}
	var res eval.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	if len(res.Models) != len(flagSets) {
		t.Fatalf("eval returned %d models", len(res.Models))
	}
	kld := make([]float64, len(flagSets))
	for i, m := range res.Models {
		kld[i] = m.Stats.KLD.Val
	}
	return kld
}

// Contradictory calibration flags are refused before any work, naming the flags.
func TestCalibrationFlagErrors(t *testing.T) {
	model := sharedFile(t, "models/stories260K.gguf")
	text := sharedFile(t, "text/tinystories_val_a.txt")
	out := filepath.Join(t.TempDir(), "out.gguf")
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--calib-text", text, "--calib-self"}, "--calib-self"},
		{[]string{"--imatrix", text, "--calib-self"}, "--imatrix"},
		{[]string{"--calib-self", "--gptq-max-cols", "0"}, "--gptq-max-cols"},
		{[]string{"--calib-self", "--calib-ctx", "4"}, "--calib-ctx"},
	} {
		_, err := runCLI(t, append(append([]string{"convert", "--fast", "-q"}, tc.flags...), model, out)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error naming %s", tc.flags, err, tc.want)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Fatalf("%v: output written", tc.flags)
		}
	}
}
