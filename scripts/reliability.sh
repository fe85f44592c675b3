#!/usr/bin/env bash
# Robustness runs (docs/RELIABILITY.md): Go fuzz targets, the PocketGGUF
# malformed corpus through an ASan/UBSan build of libllama + PQ kernels,
# every index value through every kernel, and a libFuzzer run of the load path.
#
#   bash scripts/reliability.sh ci      # minutes: each Go fuzz target 20000 inputs, libFuzzer corpus
#                                       # replay + a reproducible mutation run (-seed=1 -runs=N)
#   bash scripts/reliability.sh long    # each Go fuzz target 10 min, libFuzzer 1 h
#
#   POCKET_FUZZTIME=T       Go -fuzztime per target, a count (50000x) or a time (30s)
#   POCKET_LIBFUZZ_RUNS=N   CI mode: executions of the fuzz-pq-core mutation run (default 160000)
#   POCKET_LIBFUZZ_LOAD_RUNS=N  CI mode: executions of the fuzz-load mutation run (default 6000)
#   POCKET_LIBFUZZ_SECS=N   libFuzzer -max_total_time (long mode; setting it in CI mode runs by time)
#   POCKET_ASAN_LLAMA=0     skip the sanitizer build of all of libllama (pocket-load, fuzz-load)
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
# libFuzzer in CI: a replay of the whole corpus, then a mutation run counted in
# executions from a fresh copy of the seeds, so the same build makes the same inputs
# (see libfuzz below). The counts take about 60-90 s each on a loaded 2-core machine.
case $mode in
  ci)   fuzztime=${POCKET_FUZZTIME:-20000x}; libfuzz=${POCKET_LIBFUZZ_SECS:-0} ;;
  long) fuzztime=${POCKET_FUZZTIME:-10m}; libfuzz=${POCKET_LIBFUZZ_SECS:-3600} ;;
  *) echo "usage: $0 ci|long" >&2; exit 2 ;;
esac
runs_core=${POCKET_LIBFUZZ_RUNS:-160000}
runs_load=${POCKET_LIBFUZZ_LOAD_RUNS:-6000}
# All of libllama under ASan is on by default: its cold build took 4.5 min here (docs/RELIABILITY.md).
asan_llama=${POCKET_ASAN_LLAMA:-1}
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
# The PocketGGUF load path without the rest of libllama (fuzz/pq-core-load.h: ggml-base,
# ggml-cpu, llama-pocket.cpp), and all of libllama (pocket-load, fuzz-load: llama_model_load
# + decode; 93 steps in all, 4.5 min cold here); POCKET_ASAN_LLAMA=0 builds only the first.
step "ASan/UBSan build (build/asan)"
cfg=(-DPOCKET_SANITIZE=ON)
targets=(pq-core-load test-pq-indices-ggml-pq test-pq-indices-ggml-pq-scalar test-pqa-ggml-pq test-pqa-ggml-pq-scalar)
[ "$asan_llama" = 1 ] && targets+=(pocket-load)
if command -v clang >/dev/null && command -v clang++ >/dev/null; then
  cfg+=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPOCKET_FUZZ=ON)
  targets+=(fuzz-pq-core)
  [ "$asan_llama" = 1 ] && targets+=(fuzz-load)
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

step "every index value through every kernel (ASan)"
for v in ggml-pq ggml-pq-scalar; do build/asan/bin/test-pq-indices-$v || failed=1; done
step "the additive kernels, their layout and every code value (ASan)"
for v in ggml-pq ggml-pq-scalar; do build/asan/bin/test-pqa-$v || failed=1; done

step "malformed corpus through the PocketGGUF load path (ASan/UBSan): bad-* refused, valid-* run, odd-* no crash"
build/asan/bin/pq-core-load "$corpus"/*.gguf || failed=1
if [ -x build/asan/bin/pocket-load ] && [ "$asan_llama" = 1 ]; then
  step "malformed corpus through all of libllama (llama_model_load + decode)"
  files=("$corpus"/*.gguf)
  stories=../shared/testdata/models/stories260K.gguf
  [ -f "$stories" ] && files+=("$stories")
  build/asan/bin/pocket-load "${files[@]}" || failed=1
fi

# libFuzzer: seeds are the whole corpus (mutating valid files reaches the pocket.*
# validation, LUT build and kernels); crashes are written to build/fuzz-crashes/.
# CI mutation runs are reproducible: -seed=1 -runs=N from a fresh copy of the seeds,
# -reload=0 (re-reading the corpus folder is timed, and re-runs inputs), -use_cmp=0 (its
# dictionary picks up pointer values) and, where setarch may turn it off, no address
# randomisation (ggml's pointer-keyed hash sets make coverage depend on addresses).
# Two runs of 8000 executions gave byte-identical corpora; without those, runs split
# after a few hundred.
norand=()
setarch -R true 2>/dev/null && norand=(setarch -R)
libfuzz() { # target runs
  local t=$1 runs=$2 work=build/fuzz-corpus-$1
  [ -x "build/asan/bin/$t" ] || return 0
  mkdir -p build/fuzz-crashes
  local common=(-timeout=20 -rss_limit_mb=4096 -max_len=131072 -artifact_prefix=build/fuzz-crashes/$t- -print_final_stats=1)
  if [ "$libfuzz" = 0 ]; then
    step "libFuzzer $t: replay of the corpus"
    fuzz_run "$t" build/fuzz-replay-$t "$corpus" "${common[@]}" -runs=0 || return 0
    step "libFuzzer $t: mutation, -seed=1 -runs=$runs (reproducible)"
    fuzz_run "$t" build/fuzz-ci-$t "$corpus" "${common[@]}" -seed=1 -runs="$runs" -reload=0 -use_cmp=0
  else
    step "libFuzzer $t for ${libfuzz} s"
    fuzz_run "$t" "$work" "$corpus" "${common[@]}" -max_total_time="$libfuzz"
  fi
}
# fuzz_run target dir seeds libFuzzer-flags...: dir gets a fresh copy of the seeds unless
# it is the long mode's growing corpus; prints libFuzzer's final stats.
fuzz_run() {
  local t=$1 dir=$2 seeds=$3 start
  shift 3
  case $dir in build/fuzz-corpus-*) mkdir -p "$dir" ;; *) rm -rf "$dir"; mkdir -p "$dir" ;; esac
  cp -n "$seeds"/*.gguf "$dir"/ 2>/dev/null || true
  start=$(date +%s)
  if "${norand[@]}" "build/asan/bin/$t" "$dir" "$@" >"build/$t.log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added' "build/$t.log" | tail -5
    echo "$(( $(date +%s) - start )) s; corpus after: $(ls "$dir" | wc -l) files"
  else
    tail -60 "build/$t.log"; failed=1; return 1
  fi
}
libfuzz fuzz-pq-core "$runs_core"
[ "$asan_llama" = 1 ] && libfuzz fuzz-load "$runs_load"
exit $failed
