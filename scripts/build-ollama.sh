#!/usr/bin/env bash
# Builds a PocketGGUF-enabled Ollama: build/ollama/bin/ollama.
#
#   scripts/build-ollama.sh            copy + patch (only when needed), then go build
#   scripts/build-ollama.sh --clean    also wipe the Go build cache (cold build)
#
# Steps:
#  1. Copy the Ollama module source (version from go.mod) into build/ollama/src, only when
#     the module version or any patch in patches/llama.cpp/series or patches/ollama/series
#     changed (stamp: build/ollama/src/.pocket-stamp). The copy is a git repo with the stock
#     tree as its first commit, so `git -C build/ollama/src diff` shows what the series did.
#  2. Apply patches/llama.cpp/series, then patches/ollama/series (paths relative to the
#     Ollama module root; `git apply`, no fuzz: a patch that does not apply stops the build),
#     and copy the PQ kernels of ggml-ext/ where the patched ggml #includes them.
#  3. go build with cgo (ggml's CPU backend is compiled into the binary; `ollama serve`
#     re-executes the same binary as `ollama runner`, so no other file is needed).
#
# The Go build cache lives in build/ollama/gocache (CI caches that folder). Go's cache does
# not see edits to headers outside a package's folder (ggml.h, ggml-common.h, llama.h ...),
# so the script hashes every header of the patched tree into CGO_CPPFLAGS: a header change
# recompiles all cgo packages (like `go build -a`), nothing else does.
#
# Environment:
#  POCKET_OLLAMA_CFLAGS  C/C++ flags for ggml (default: -O2, plus -march=x86-64-v3 when the
#                        CPU has AVX2+FMA+F16C; an explicit level, never -march=native, so a
#                        cached object never meets a CPU it was not built for).
#  GOFLAGS               passed through (e.g. GOFLAGS=-a for a forced full rebuild).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=$ROOT/build/ollama
SRC=$B/src
export GOCACHE=${POCKET_OLLAMA_GOCACHE:-$B/gocache}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

if [ "${1:-}" = "--clean" ]; then rm -rf "$GOCACHE" "$SRC"; fi

log() { echo "build-ollama: $*" >&2; }

# Copied Ollama sources under build/ must not count as packages of this module (go test ./...).
mkdir -p "$ROOT/build" && { [ -f "$ROOT/build/go.mod" ] || printf 'module pocketgguf.build.outputs\n' > "$ROOT/build/go.mod"; }

MOD_VERSION=$(go list -m -f '{{.Version}}' github.com/ollama/ollama)
MOD_DIR=$(go list -m -f '{{.Dir}}' github.com/ollama/ollama 2>/dev/null || true)
if [ -z "$MOD_DIR" ] || [ ! -d "$MOD_DIR" ]; then
  go mod download github.com/ollama/ollama
  MOD_DIR=$(go list -m -f '{{.Dir}}' github.com/ollama/ollama)
fi

# series_files DIR: the patch files DIR/series lists, in order (blank lines and # comments skipped).
series_files() {
  local dir=$1
  [ -f "$dir/series" ] || return 0
  sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$dir/series" | while read -r p; do
    [ -n "$p" ] || continue
    [ -f "$dir/$p" ] || { log "$dir/series lists $p, which does not exist"; exit 1; }
    echo "$dir/$p"
  done
}
PATCHES=$(series_files patches/llama.cpp; series_files patches/ollama)

# The PQ kernels (ggml-ext/) have one copy in this repo; the patched tree compiles them from
# ml/backend/ggml/ggml/include/ggml-pq.h and ml/backend/ggml/ggml/src/pocket/ (the same rule
# as cmake/OllamaSources.cmake): ggml-pq.c and ggml-cpu/ggml-cpu-pq.c #include them.
KERNEL_FILES=$(ls ggml-ext/include/ggml-pq.h ggml-ext/src/*.c ggml-ext/src/*.h 2>/dev/null || true)

stamp=$( { echo "ollama $MOD_VERSION"; for p in $PATCHES $KERNEL_FILES; do echo "== $p"; cat "$p"; done; } | sha256sum | cut -d' ' -f1)

if [ ! -f "$SRC/.pocket-stamp" ] || [ "$(cat "$SRC/.pocket-stamp")" != "$stamp" ]; then
  log "copying ollama $MOD_VERSION into $SRC"
  rm -rf "$SRC"
  mkdir -p "$B"
  cp -r "$MOD_DIR" "$SRC"
  chmod -R u+w "$SRC"
  git -C "$SRC" init -q
  git -C "$SRC" -c user.name=build -c user.email=build@localhost add -A
  git -C "$SRC" -c user.name=build -c user.email=build@localhost commit -q -m "ollama $MOD_VERSION (stock)"
  for p in $PATCHES; do
    log "applying $p"
    git -C "$SRC" apply --whitespace=nowarn "$ROOT/$p" || { log "patch $p does not apply to ollama $MOD_VERSION"; exit 1; }
  done
  if [ -n "$KERNEL_FILES" ]; then
    log "copying ggml-ext kernels into ml/backend/ggml/ggml/{include,src/pocket}"
    cp ggml-ext/include/ggml-pq.h "$SRC/ml/backend/ggml/ggml/include/"
    mkdir -p "$SRC/ml/backend/ggml/ggml/src/pocket"
    cp ggml-ext/src/*.c ggml-ext/src/*.h "$SRC/ml/backend/ggml/ggml/src/pocket/"
    # Go's cache hashes a package's own files, not what they #include from pocket/: stamp
    # the kernels' hash into the two files that include them, so an edit there recompiles
    # exactly those two packages.
    khash=$(cat ggml-ext/src/*.c ggml-ext/src/*.h | sha256sum | cut -c1-16)
    for f in ml/backend/ggml/ggml/src/ggml-pq.c ml/backend/ggml/ggml/src/ggml-cpu/ggml-cpu-pq.c; do
      [ -f "$SRC/$f" ] && echo "// pocket kernels $khash" >> "$SRC/$f"
    done
  fi
  echo "$stamp" > "$SRC/.pocket-stamp"
fi

if [ -z "${POCKET_OLLAMA_CFLAGS+x}" ]; then
  POCKET_OLLAMA_CFLAGS="-O2"
  if [ "$(go env GOARCH)" = amd64 ] && grep -q ' avx2 ' /proc/cpuinfo && grep -q ' fma ' /proc/cpuinfo && grep -q ' f16c ' /proc/cpuinfo; then
    POCKET_OLLAMA_CFLAGS="-O2 -march=x86-64-v3"
  fi
fi
hdr_hash=$(cd "$SRC" && find . \( -path ./.git -o -path ./ml/backend/ggml/ggml/src/pocket \) -prune -o \( -name '*.h' -o -name '*.hpp' \) -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
export CGO_ENABLED=1
export CGO_CFLAGS="$POCKET_OLLAMA_CFLAGS"
export CGO_CXXFLAGS="$POCKET_OLLAMA_CFLAGS"
export CGO_CPPFLAGS="-DPOCKET_HEADERS=$hdr_hash"

mkdir -p "$B/bin"
log "go build (GOCACHE=$GOCACHE, CFLAGS=$CGO_CFLAGS)"
t0=$(date +%s)
(cd "$SRC" && go mod download && go build -trimpath \
  -ldflags "-s -w -X=github.com/ollama/ollama/version.Version=${MOD_VERSION#v}" \
  -o "$B/bin/ollama.tmp" .)
mv "$B/bin/ollama.tmp" "$B/bin/ollama"
log "built $B/bin/ollama in $(( $(date +%s) - t0 ))s"
