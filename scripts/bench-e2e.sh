#!/usr/bin/env bash
# End-to-end speed and memory of a PocketGGUF against llama.cpp's low-bit twins of the same model,
# in one run: pocket-cli generation and prompt processing, 1 and 2 threads (docs/bench/kernels.md).
#
#   bash scripts/bench-e2e.sh [PRESET] [BPW]     # defaults: llama7b-2l 2.5
#
# The model is a testmodels preset (llama7b-2l: Llama-2-7B's layer shapes, 2 layers, the 32000
# vocabulary); the twins come from `pocketgguf baseline` (llama.cpp's quantizer; IQ2_XXS with an
# importance matrix over the same text the prompt is cut from). Each configuration runs REPS
# times, interleaved, and the best is kept: the machine is shared, compare within one run.
#   POCKET_BENCH_DIR   where the models go (default build/bench-e2e; they are reused)
#   REPS               runs per configuration (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/go-env.sh
preset=${1:-llama7b-2l}
bpw=${2:-2.5}
dir=${POCKET_BENCH_DIR:-build/bench-e2e}
reps=${REPS:-2}
mkdir -p "$dir"
cli=build/native/bin/pocket-cli
[ -x "$cli" ] || { echo "bench-e2e: $cli missing: build build/native first (scripts/test.sh does)" >&2; exit 1; }
go build -o build/pocketgguf ./cli

base=$dir/$preset.gguf
[ -f "$base" ] || go run ./testmodels/cmd/gen -preset "$preset" "$base"

# A prompt of about 512 tokens and calibration text: real English when ../shared has it.
text=../shared/testdata/text/wiki.test.raw
prompt=$dir/prompt.txt
if [ -f "$text" ]; then
  head -c 400000 "$text" > "$dir/calib.txt"
  dd if="$text" of="$prompt" bs=100 skip=4000 count=23 status=none
else
  for i in $(seq 1 400); do echo "Once upon a time there was a little girl named Lily who liked to play."; done > "$dir/calib.txt"
  head -c 2300 "$dir/calib.txt" > "$prompt"
fi

pq=$dir/$preset.pq-$bpw.gguf
[ -f "$pq" ] || build/pocketgguf convert -q --fast --bpw "$bpw" --threads 2 "$base" "$pq"
build/pocketgguf baseline -q --types Q2_K,IQ2_XXS,Q4_0 --text "$dir/calib.txt" --chunks 4 --ctx 256 \
  --out-dir "$dir" "$base" >/dev/null
stem=$(basename "$base" .gguf)
models=("$pq" "$dir/$stem-Q2_K.gguf" "$dir/$stem-IQ2_XXS.gguf" "$dir/$stem-Q4_0.gguf")

# pocket-cli's summary line: prompt tok/s, generated tok/s, RSS after load (MiB).
measure() {  # model threads -> "pp tg rss"
  "$cli" -m "$1" -f "$prompt" -n 32 --temp 0 -t "$2" -c 1024 -fa off 2>&1 >/dev/null | awk -F'|' '
    /pocket-cli: / { split($3, p, " "); split($4, g, " "); split($6, r, " ");
                     print p[4], g[4], r[4], p[2] }'
}
declare -A best_pp best_tg rss ntok
for rep in $(seq 1 "$reps"); do
  for t in 1 2; do
    for m in "${models[@]}"; do
      read -r pp tg mem n < <(measure "$m" "$t")
      k="$m|$t"
      if [ -z "${best_pp[$k]:-}" ] || awk -v a="$pp" -v b="${best_pp[$k]}" 'BEGIN{exit !(a>b)}'; then best_pp[$k]=$pp; fi
      if [ -z "${best_tg[$k]:-}" ] || awk -v a="$tg" -v b="${best_tg[$k]}" 'BEGIN{exit !(a>b)}'; then best_tg[$k]=$tg; fi
      rss[$m]=$mem; ntok[$m]=$n
    done
  done
done

printf '%s, PocketGGUF --bpw %s against llama.cpp twins; pocket-cli, prompt %s tokens, 32 generated, best of %s\n\n' \
  "$preset" "$bpw" "${ntok[$pq]}" "$reps"
echo "| model | file MiB | whole-file bpw | RSS after load MiB | TG 1 thr tok/s | TG 2 thr | PP 1 thr tok/s | PP 2 thr | TG 1 thr vs Q2_K |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
q2=${best_tg["$dir/$stem-Q2_K.gguf|1"]}
weights=$(build/pocketgguf inspect --json "$base" | python3 -c 'import json,sys; print(json.load(sys.stdin)["elements"])' 2>/dev/null || echo 0)
for m in "${models[@]}"; do
  bytes=$(stat -c %s "$m")
  awk -v n="$(basename "$m")" -v b="$bytes" -v w="$weights" -v r="${rss[$m]}" \
      -v t1="${best_tg[$m|1]}" -v t2="${best_tg[$m|2]}" -v p1="${best_pp[$m|1]}" -v p2="${best_pp[$m|2]}" -v q="$q2" \
      'BEGIN { printf "| %s | %.1f | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.2fx |\n", n, b/1048576,
               (w > 0 ? sprintf("%.3f", b*8/w) : "?"), r, t1, t2, p1, p2, t1/q }'
done
