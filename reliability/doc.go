// Package reliability holds the project's robustness tests that run the
// real pocketgguf binary: interrupted and resumed conversions, a full disk.
// Fuzz targets live beside the code they fuzz (gguf/, format/, converter/
// fuzz_test.go); the C sanitizer and libFuzzer runs are scripts/reliability.sh.
// See docs/RELIABILITY.md for the figures and commands.
package reliability
