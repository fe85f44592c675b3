#!/usr/bin/env bash
# Installs the build dependencies on Debian: idempotent, quiet when all is there.
set -euo pipefail
need=()
# cmake/ninja/g++ build ggml+libllama (CMakeLists.txt); the aarch64 cross
# compilers and qemu-user serve the cross build (POCKET_CROSS=1 scripts/test.sh).
# nlohmann json and stb stand in for llama/llama.cpp/vendor/, which the Ollama
# module zip lacks (scripts/build-ollama.sh).
for p in build-essential cmake ninja-build git ca-certificates \
         gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user \
         nlohmann-json3-dev libstb-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq "${need[@]}"
fi
source scripts/go-env.sh
go mod download
