#!/usr/bin/env bash
# The project's test command (README, .ci/run). Installs what it needs, builds, tests.
#   POCKET_JOBS=N   parallel compile jobs (default 2)
#   POCKET_OLLAMA=0 skip the patched Ollama build and its e2e/load tests (on by default)
#   POCKET_CROSS=0  skip the aarch64 cross build and its qemu tests (on by default)
#   POCKET_RELIABILITY=0  skip scripts/reliability.sh ci (Go fuzzing, ASan/UBSan corpus, libFuzzer; minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
source scripts/go-env.sh   # Go on PATH for this shell too
jobs=${POCKET_JOBS:-2}
# build/ holds copies of Ollama's sources (with .go files): a go.mod there makes it a
# module of its own, so `go test ./...` does not try to compile them as ours.
mkdir -p build && [ -f build/go.mod ] || printf 'module pocketgguf.build.outputs\n' > build/go.mod

# configure+build a CMake tree (ninja when present; keep a tree's first generator)
cmake_build() {
  local dir=$1; shift
  local gen=()
  if [ ! -f "$dir/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
  cmake -S . -B "$dir" "${gen[@]}" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure
}

cmake_build build/native          # libpocketllama.a for cgo (bridge/)
# The aarch64 tree (NEON kernels, static pocket-cli) runs its ctests under
# qemu-aarch64; cli's native test then also runs that pocket-cli on a PQ model.
if [ "${POCKET_CROSS:-1}" = 1 ]; then
  cmake_build build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
fi
# Patched Ollama (build/ollama/bin/ollama; Go cache build/ollama/gocache) for e2e/
# and the Ollama load tests (cold: about 8 minutes on 2 cores).
if [ "${POCKET_OLLAMA:-1}" = 1 ]; then
  bash scripts/build-ollama.sh
  (cd build/ollama/src && GOCACHE=$PWD/../gocache go test ./fs/ggml/)
  export POCKET_E2E=1
fi
go test ./...
# The concurrency tests again under the race detector.
go test -race -run 'TestConcurrent|TestCancellation|TestClosed' ./bridge
if [ "${POCKET_RELIABILITY:-1}" = 1 ]; then
  POCKET_JOBS=$jobs bash scripts/reliability.sh ci
fi
