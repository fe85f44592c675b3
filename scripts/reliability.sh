#!/usr/bin/env bash
# Robustness runs (docs/RELIABILITY.md): Go fuzz targets, the PocketGGUF
# malformed corpus through an ASan/UBSan build of libllama + PQ kernels,
# every index value through every kernel, and a libFuzzer run of the load path.
#
#   bash scripts/reliability.sh ci      # minutes: each Go fuzz target 25 s, libFuzzer 60 s
#   bash scripts/reliability.sh long    # each Go fuzz target 10 min, libFuzzer 1 h
#
#   POCKET_FUZZTIME=30s     Go -fuzztime per target (overrides the mode)
#   POCKET_LIBFUZZ_SECS=N   libFuzzer -max_total_time (overrides the mode)
#   POCKET_JOBS=N           compile jobs and Go fuzz workers (default 2)
#   POCKET_SKIP_GO=1        skip the Go fuzz targets and corpus generation
#   POCKET_SKIP_ASAN=1      skip the sanitizer build and everything on it
#   POCKET_CORPUS=DIR       malformed corpus (default build/pqcorpus, made by fuzz/cmd/pqcorpus)
#   OLLAMA_MODULE_DIR=DIR   Ollama sources when `go` is not available (see cmake/OllamaSources.cmake)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-ci}
case $mode in
  ci)   fuzztime=${POCKET_FUZZTIME:-25s}; libfuzz=${POCKET_LIBFUZZ_SECS:-60} ;;
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
if [ "${POCKET_SKIP_GO:-0}" != 1 ]; then
  for t in gguf:FuzzReadGGUF converter:FuzzReadPocket format:FuzzTable format:FuzzIndices; do
    pkg=${t%%:*} name=${t##*:}
    step "go fuzz $name ($pkg, $fuzztime)"
    log=$(mktemp)
    if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime=0 -parallel "$jobs" "./$pkg" >"$log" 2>&1; then
      grep -E '^fuzz: elapsed' "$log" | tail -1
    else
      cat "$log"; failed=1
    fi
    rm -f "$log"
  done
  step "malformed PocketGGUF corpus -> $corpus"
  rm -rf "$corpus"
  go run ./fuzz/cmd/pqcorpus "$corpus"
fi

[ "${POCKET_SKIP_ASAN:-0}" = 1 ] && exit $failed

# 2. Sanitizer build: clang gives libFuzzer too; gcc builds everything but fuzz-load.
step "ASan/UBSan build (build/asan)"
cfg=(-DPOCKET_SANITIZE=ON)
targets=(pocket-load test-pq-indices-ggml-pq test-pq-indices-ggml-pq-scalar)
if command -v clang >/dev/null && command -v clang++ >/dev/null; then
  cfg+=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPOCKET_FUZZ=ON)
  targets+=(fuzz-load)
fi
[ -n "${OLLAMA_MODULE_DIR:-}" ] && cfg+=(-DOLLAMA_MODULE_DIR="$(realpath "$OLLAMA_MODULE_DIR")")
gen=()
if [ ! -f build/asan/CMakeCache.txt ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
start=$(date +%s)
cmake -S . -B build/asan "${gen[@]}" "${cfg[@]}" >/dev/null
cmake --build build/asan -j "$jobs" --target "${targets[@]}" >/dev/null
echo "built in $(( $(date +%s) - start )) s"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

step "every index value through every kernel (ASan)"
for v in ggml-pq ggml-pq-scalar; do build/asan/bin/test-pq-indices-$v || failed=1; done

step "malformed corpus through libllama (ASan/UBSan): bad-* refused, valid-*/odd-* run"
files=("$corpus"/*.gguf)
stories=../shared/testdata/models/stories260K.gguf
[ -f "$stories" ] && files+=("$stories")
build/asan/bin/pocket-load "${files[@]}" || failed=1

if [ -x build/asan/bin/fuzz-load ]; then
  step "libFuzzer on the load path for ${libfuzz} s"
  work=build/fuzz-load-corpus
  mkdir -p "$work" build/fuzz-load-crashes
  # seeds: the valid files (mutating them reaches the PQ validation and kernels)
  cp -n "$corpus"/valid-*.gguf "$corpus"/odd-*.gguf "$work"/ 2>/dev/null || true
  if build/asan/bin/fuzz-load "$work" -max_total_time="$libfuzz" -timeout=20 -rss_limit_mb=4096 \
       -max_len=131072 -artifact_prefix=build/fuzz-load-crashes/ -print_final_stats=1 2>build/fuzz-load.log; then
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|DONE' build/fuzz-load.log | tail -4
  else
    tail -60 build/fuzz-load.log; failed=1
  fi
fi
exit $failed
