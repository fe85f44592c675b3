package main

import (
	"encoding/json"
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
	model := sharedFile(t, "models/stories260K.gguf")
	text := sharedFile(t, "text/tinystories_val_a.txt")
	dir := t.TempDir()
	all, err := os.ReadFile(text)
	if err != nil {
		t.Fatal(err)
	}
	calib := filepath.Join(dir, "calib.txt") // the text's tail: disjoint from the scored chunks
	if err := os.WriteFile(calib, all[len(all)-150000:], 0o644); err != nil {
		t.Fatal(err)
	}
	conv := func(name string, flags ...string) string {
		out := filepath.Join(dir, name+".gguf")
		// Plain types: the thresholds below were measured on them; the speed plan's gains are
		// held by TestSpeedPlanCalibrated (speed_calib_test.go).
		args := append([]string{"convert", "--fast", "-q", "--prefer", "quality", "--bpw", "3", "--threads", "1", "--calib-ctx", "256", "--calib-chunks", "40"}, flags...)
		if _, err := runCLI(t, append(args, model, out)...); err != nil {
			t.Fatalf("convert %s: %v", name, err)
		}
		return out
	}
	plain := conv("plain")
	noGPTQ := conv("imatrix-only", "--calib-text", calib, "--gptq=false")
	gptq := conv("gptq", "--calib-text", calib)
	self := conv("self", "--calib-self")
	out, err := runCLI(t, "eval", "--base", model, "--model", plain, "--model", noGPTQ, "--model", gptq, "--model", self,
		"--text", text, "--chunks", "8", "--threads", "1", "--json", "-q")
	if err != nil {
		t.Fatal(err)
	}
	var res eval.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	if len(res.Models) != 4 {
		t.Fatalf("eval returned %d models", len(res.Models))
	}
	kld := func(i int) float64 { return res.Models[i].Stats.KLD.Val }
	t.Logf("3 bpw mean KLD: none %.3f, imatrix only %.3f, gptq %.3f, calib-self %.3f", kld(0), kld(1), kld(2), kld(3))
	if kld(2) >= 0.9*kld(1) {
		t.Errorf("GPTQ KLD %.3f not 10%% below the same calibration without it (%.3f)", kld(2), kld(1))
	}
	if kld(3) >= 0.9*kld(0) {
		t.Errorf("--calib-self KLD %.3f not 10%% below no calibration (%.3f)", kld(3), kld(0))
	}
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
