package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/recipe"
)

// Without --fast, convert says which steps the budget buys and runs them:
// here calibration is pinned small (8 chunks of 64 tokens) and the budget
// picks GPTQ and the fine-tuning epochs; the file is written and tuned.
func TestConvertRunsTheBudgetedRecipe(t *testing.T) {
	model := sharedFile(t, "models/stories260K.gguf")
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	out := filepath.Join(dir, "r.gguf")
	cmd := exec.Command(bin, "convert", "--bpw", "3", "--threads", "2", "--calib-chunks", "8", "--calib-ctx", "64", "--time-budget", "8s", model, out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, stderr.String())
	}
	plan := regexp.MustCompile(`recipe: self-calibration 8 × 64 tokens \(est\. [^)]*\), GPTQ, conversion \(est\. [^)]*\), fine-tuning (\d+) epochs`).FindStringSubmatch(stderr.String())
	if plan == nil {
		t.Fatalf("no recipe line with self-calibration, GPTQ and fine-tuning in:\n%s", stderr.String())
	}
	epochs, _ := strconv.Atoi(plan[1])
	if epochs < 1 || epochs >= recipe.MaxEpochs {
		t.Fatalf("an 8 s budget bought %d epochs", epochs)
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("fewer than %d, to fit --time-budget 8s", recipe.MaxEpochs)) {
		t.Fatalf("the plan does not say why fewer epochs:\n%s", stderr.String())
	}
	if !regexp.MustCompile(`finetune: held-out KL [0-9.]+ -> [0-9.]+ \(epoch \d+ of ` + plan[1] + `;`).Match(stdout) {
		t.Fatalf("no fine-tuning summary in:\n%s", stdout)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	// --fast is the plain conversion: no calibration, no fine-tuning.
	cmd = exec.Command(bin, "convert", "--fast", "--bpw", "3", model, filepath.Join(dir, "f.gguf"))
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "recipe: conversion (est.") || strings.Contains(string(b), "finetune") {
		t.Fatalf("--fast: %v\n%s", err, b)
	}
}

// Refusals come before any long work: a missing output folder, a --bpw no
// layout reaches, a negative budget.
func TestConvertRefusesBeforeCalibrating(t *testing.T) {
	model := sharedFile(t, "models/stories260K.gguf")
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bpw", "3", model, filepath.Join(dir, "missing", "x.gguf")}, "cannot write"},
		{[]string{"--bpw", "0.5", model, filepath.Join(dir, "x.gguf")}, "--bpw 0.5 is not reachable"},
		{[]string{"--bpw", "3", "--time-budget", "-1m", model, filepath.Join(dir, "x.gguf")}, "--time-budget -1m0s"},
		{[]string{"--bpw", "3", "--calib-chunks", "0", model, filepath.Join(dir, "x.gguf")}, "--calib-chunks 0"},
	} {
		_, err := runCLI(t, append([]string{"convert", "-q"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("convert %q: %v, want %q", tc.args, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("refusals left %d files in %s", len(entries), dir)
	}
}
