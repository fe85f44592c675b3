#!/usr/bin/env bash
# The project's test command (README, .ci/run). Installs what it needs, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# Patched Ollama (build/ollama/bin/ollama; cache build/ollama/gocache) for the e2e tests.
bash scripts/build-ollama.sh
(cd build/ollama/src && GOCACHE=$PWD/../gocache GOFLAGS=-mod=mod go test ./fs/ggml/)
POCKET_E2E=1 go test ./...
