#!/usr/bin/env bash
# The project's test command (README, .ci/run). Installs what it needs, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
go test ./...
