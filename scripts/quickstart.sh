#!/usr/bin/env bash
# First command of the README: installs dependencies, builds ggml/libllama and build/pocketgguf,
# compresses a small model to 3 whole-file bits per weight (stories260K: 5.6x
# smaller than F16) with convert's default recipe: data-free self-calibration,
# GPTQ error feedback and end-to-end fine-tuning against the original, as many
# epochs as a 5-minute budget allows (the default budget, 15 min, buys the
# full 30), shows what is in the result and generates from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
source scripts/go-env.sh   # Go on PATH for this shell too
# ggml + libllama (patched) first: the CLI links them for run/eval (README, Build).
gen=(); [ -f build/native/CMakeCache.txt ] || gen=(-G Ninja)
cmake -S . -B build/native "${gen[@]}" >/dev/null
cmake --build build/native -j "${POCKET_JOBS:-2}"
go build -o build/pocketgguf ./cli
in=../shared/testdata/models/stories260K.gguf
synthetic=0
if [ ! -f "$in" ]; then
  echo "quickstart: $in not found; generating a synthetic tiny Llama instead"
  go run ./testmodels/cmd/gen -preset tiny build/tiny.gguf
  in=build/tiny.gguf
  synthetic=1
fi
out=build/quickstart.pq.gguf
build/pocketgguf convert --bpw 3 --time-budget 5m "$in" "$out"
in_size=$(stat -c %s "$in")
out_size=$(stat -c %s "$out")
awk -v a="$in_size" -v b="$out_size" -v n="$in" -v o="$out" \
  'BEGIN { printf "size: %s %d bytes -> %s %d bytes (%.1fx smaller)\n", n, a, o, b, a / b }'
build/pocketgguf inspect --compare "$in" "$out"
# The compressed model runs natively (PQ kernels, tables built at load).
if [ "$synthetic" = 1 ]; then
  echo "quickstart: the synthetic model has random weights: the text below is noise by design;"
  echo "            with ../shared/testdata (stories260K) it is a story."
fi
build/pocketgguf run "$out" -p "Once upon a time" -n 32 --temp 0
