#!/usr/bin/env bash
# Runs serve's chaos tests (tests/serve/chaos.rs) several times in a row: a slow model that
# outlasts the job lease, three workers, a SIGKILL mid-run, a slow and lossy Freshdesk, and an
# approval whose reply outlasts the request. Usage: scripts/chaos.sh [runs] (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh
runs="${1:-3}"
bash scripts/fetch-model.sh
cargo test --test serve --no-run --quiet
for run in $(seq 1 "$runs"); do
  started=$(date +%s)
  cargo test --quiet --test serve chaos -- --test-threads 1
  echo "chaos: run $run of $runs passed in $(( $(date +%s) - started )) s"
done
