#!/usr/bin/env bash
# Robustness runs (docs/RELIABILITY.md): Go fuzz targets, the PocketGGUF
# malformed corpus through an ASan/UBSan build of libllama + PQ kernels,
# every index value through every kernel, and a libFuzzer run of the load path.
#
#   bash scripts/reliability.sh ci      # minutes: each Go fuzz target 20000 inputs, libFuzzer corpus replay
#   bash scripts/reliability.sh long    # each Go fuzz target 10 min, libFuzzer 1 h
#
#   POCKET_FUZZTIME=T       Go -fuzztime per target, a count (50000x) or a time (30s)
#   POCKET_LIBFUZZ_SECS=N   libFuzzer -max_total_time (overrides the mode)
#   POCKET_JOBS=N           compile jobs and Go fuzz workers (default 2)
#   POCKET_SKIP_GO=1        skip the Go fuzz targets and corpus generation
#   POCKET_SKIP_ASAN=1      skip the sanitizer build and everything on it
#   POCKET_CORPUS=DIR       malformed corpus (default build/pqcorpus, made by fuzz/cmd/pqcorpus)
#   OLLAMA_MODULE_DIR=DIR   Ollama sources when `go` is not available (see cmake/OllamaSources.cmake)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-ci}
# Go fuzz budgets are execution counts in CI: a wall-clock -fuzztime races the
# coordinator's deadline on a loaded machine and fails with a bare "context
# deadline exceeded" (golang/go#75804, fixed in Go 1.27). Long runs use time
# and tolerate that race (see fuzz_go below).
case $mode in
  # libFuzzer's mutation runs are not reproducible (coverage feedback varies run
  # to run) and still find upstream gguf.cpp bugs (SECURITY.md), so CI replays the
  # whole corpus through the fuzz target (deterministic); mutation is the long mode.
  ci)   fuzztime=${POCKET_FUZZTIME:-20000x}; libfuzz=${POCKET_LIBFUZZ_SECS:-0} ;;
  long) fuzztime=${POCKET_FUZZTIME:-10m}; libfuzz=${POCKET_LIBFUZZ_SECS:-3600} ;;
  *) echo "usage: $0 ci|long" >&2; exit 2 ;;
esac
jobs=${POCKET_JOBS:-2}
corpus=${POCKET_CORPUS:-build/pqcorpus}
failed=0
step() { printf '\n== %s\n' "$*"; }

# 1. Go fuzz targets. -fuzzminimizetime=0: minimising each new input of a
# 30 KB seed stalls a short run on 2 cores; a failing input is still saved
# under testdata/fuzz/<Target>/ and replayed by every later `go test`.
fuzz_go() { # pkg target
  local pkg=$1 name=$2 log before after
  log=$(mktemp)
  before=$(ls "$pkg/testdata/fuzz/$name" 2>/dev/null | wc -l || true)
  start=$(date +%s)
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime=0 -parallel "$jobs" "./$pkg" >"$log" 2>&1; then
    echo "$(grep -E '^fuzz: elapsed' "$log" | tail -1) in $(( $(date +%s) - start )) s"
  else
    after=$(ls "$pkg/testdata/fuzz/$name" 2>/dev/null | wc -l || true)
    if grep -q 'context deadline exceeded' "$log" && [ "$after" = "$before" ] && ! grep -q -- '--- FAIL: .*/' "$log"; then
      echo "$(grep -E '^fuzz: elapsed' "$log" | tail -1); stopped by the -fuzztime deadline race (golang/go#75804), no failing input"
    else
      cat "$log"; failed=1
    fi
  fi
  rm -f "$log"
}
if [ "${POCKET_SKIP_GO:-0}" != 1 ]; then
  for t in gguf:FuzzReadGGUF converter:FuzzReadPocket format:FuzzTable format:FuzzIndices; do
    step "go fuzz ${t##*:} (${t%%:*}, $fuzztime)"
    fuzz_go "${t%%:*}" "${t##*:}"
  done
  step "malformed PocketGGUF corpus -> $corpus"
  rm -rf "$corpus"
  go run ./fuzz/cmd/pqcorpus "$corpus"
fi

[ "${POCKET_SKIP_ASAN:-0}" = 1 ] && exit $failed

# 2. Sanitizer build: clang gives libFuzzer too; gcc builds everything but the fuzz targets.
# By default the PocketGGUF load path without the rest of libllama (fuzz/pq-core-load.h:
# ggml-base, ggml-cpu, llama-pocket.cpp; ~45 steps); POCKET_ASAN_LLAMA=1 adds all of
# libllama (pocket-load, fuzz-load: llama_model_load + decode; ~180 steps, over an hour on 2 cores).
step "ASan/UBSan build (build/asan)"
cfg=(-DPOCKET_SANITIZE=ON)
targets=(pq-core-load test-pq-indices-ggml-pq test-pq-indices-ggml-pq-scalar)
[ "${POCKET_ASAN_LLAMA:-0}" = 1 ] && targets+=(pocket-load)
if command -v clang >/dev/null && command -v clang++ >/dev/null; then
  cfg+=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPOCKET_FUZZ=ON)
  targets+=(fuzz-pq-core)
  [ "${POCKET_ASAN_LLAMA:-0}" = 1 ] && targets+=(fuzz-load)
fi
[ -n "${OLLAMA_MODULE_DIR:-}" ] && cfg+=(-DOLLAMA_MODULE_DIR="$(realpath "$OLLAMA_MODULE_DIR")")
gen=()
if [ ! -f build/asan/CMakeCache.txt ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
start=$(date +%s)
cmake -S . -B build/asan "${gen[@]}" "${cfg[@]}" >/dev/null
cmake --build build/asan -j "$jobs" --target "${targets[@]}" >/dev/null
echo "built ${targets[*]} in $(( $(date +%s) - start )) s"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export GGML_NO_BACKTRACE=1   # ggml_abort would otherwise attach gdb to print a stack
# Known, documented (SECURITY.md): a 1-D PQ tensor reaching ggml_mul aborts ggml-cpu
# ("unsupported types"); the format allows it, llama.cpp has no PQ kernel for it.
export POCKET_KNOWN_ABORTS=${POCKET_KNOWN_ABORTS:-norm-as-pq}

step "every index value through every kernel (ASan)"
for v in ggml-pq ggml-pq-scalar; do build/asan/bin/test-pq-indices-$v || failed=1; done

step "malformed corpus through the PocketGGUF load path (ASan/UBSan): bad-* refused, valid-*/odd-* run"
build/asan/bin/pq-core-load "$corpus"/*.gguf || failed=1
if [ -x build/asan/bin/pocket-load ] && [ "${POCKET_ASAN_LLAMA:-0}" = 1 ]; then
  step "malformed corpus through all of libllama (llama_model_load + decode)"
  files=("$corpus"/*.gguf)
  stories=../shared/testdata/models/stories260K.gguf
  [ -f "$stories" ] && files+=("$stories")
  build/asan/bin/pocket-load "${files[@]}" || failed=1
fi

# libFuzzer: seeds are the valid and odd files (mutating them reaches the pocket.*
# validation, LUT build and kernels); crashes are written to build/fuzz-crashes/.
libfuzz() { # target
  local t=$1 work=build/fuzz-corpus-$1
  [ -x "build/asan/bin/$t" ] || return 0
  mkdir -p "$work" build/fuzz-crashes
  cp -n "$corpus"/valid-*.gguf "$corpus"/odd-*.gguf "$work"/ 2>/dev/null || true
  local budget=(-max_total_time="$libfuzz")
  if [ "$libfuzz" = 0 ]; then
    step "libFuzzer $t: replay of the corpus (no mutation)"
    cp -n "$corpus"/bad-*.gguf "$work"/ 2>/dev/null || true
    budget=(-runs=0)
  else
    step "libFuzzer $t for ${libfuzz} s"
  fi
  if "build/asan/bin/$t" "$work" "${budget[@]}" -timeout=20 -rss_limit_mb=4096 -max_len=131072 \
       -artifact_prefix=build/fuzz-crashes/$t- -print_final_stats=1 >"build/$t.log" 2>&1; then
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added|^#[0-9]+ *DONE' "build/$t.log" | tail -4
  else
    tail -60 "build/$t.log"; failed=1
  fi
}
libfuzz fuzz-pq-core
[ "${POCKET_ASAN_LLAMA:-0}" = 1 ] && libfuzz fuzz-load
exit $failed
