#!/usr/bin/env bash
# Installs the build dependencies on Debian: idempotent, quiet when all is there.
set -euo pipefail
need=()
for p in build-essential cmake ninja-build git ca-certificates nlohmann-json3-dev libstb-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq "${need[@]}"
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH=/usr/local/go/bin:$PATH; fi
command -v go >/dev/null 2>&1 || { echo "deps: Go not found; install golang-go (GOTOOLCHAIN=auto fetches the version go.mod needs)" >&2; exit 1; }
go mod download
