#!/usr/bin/env bash
# The project's test command (README, .ci/run). Installs what it needs, builds, tests.
#   POCKET_JOBS=N   parallel compile jobs (default 2)
#   POCKET_CROSS=1  also cross-build for aarch64 and run the smoke test under qemu
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
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
# Patched Ollama (build/ollama/bin/ollama; Go cache build/ollama/gocache) for e2e/.
bash scripts/build-ollama.sh
(cd build/ollama/src && GOCACHE=$PWD/../gocache go test ./fs/ggml/)
POCKET_E2E=1 go test ./...
# The concurrency tests again under the race detector.
go test -race -run 'TestConcurrent|TestCancellation|TestClosed' ./bridge
if [ "${POCKET_CROSS:-0}" = 1 ]; then
  cmake_build build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
fi
