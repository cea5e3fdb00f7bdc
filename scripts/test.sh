#!/usr/bin/env bash
# Runs every test. Installs what the tests need first (the embedding model; Debian's chromium for
# the report screenshot test; Debian's postgresql for the PostgreSQL queue tests, which start
# throwaway clusters themselves on 127.0.0.1), so it works on a fresh machine. Tests that read ../shared say so
# and skip visibly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

# Disk is what a fresh CI machine runs out of first (one CI run died of 'No space left on device'
# while linking): every integration test is its own ~100 MB binary. So this script builds lean
# unless told otherwise: no incremental caches (gigabytes, and useless on a clean clone) and no
# debug info in the test binaries (about 45% of each). Set either variable to keep them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-false}"
free_disk() { echo "test: disk free after $1: $(df -Ph . | awk 'NR==2 {print $4}') (target $(du -sh target 2>/dev/null | cut -f1))"; }
free_disk "start"

bash scripts/fetch-model.sh
bash scripts/fetch-axe.sh
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing Debian's chromium for the report screenshot test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "test: could not install chromium; the screenshot test will say it skipped"
fi

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && [ -z "${PG_BIN:-}" ] \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing Debian's postgresql for the PostgreSQL queue tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || echo "test: could not install postgresql; the PostgreSQL queue tests will say they skipped"
fi

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
free_disk "the tests"
cargo test --doc

# Bounded fuzzing of the parsers of untrusted input (fuzz/README.md): a cold build of the
# instrumented targets (about 550-620 CPU-seconds) plus DESKDRAFT_FUZZ_SECONDS (default 20) per target.
# Its instrumented build adds about 1.5 GB in fuzz/target: on a machine short of disk (under 8 GB
# free), the main build's test binaries (rebuilt by any later `cargo test`) make room first.
free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt $((8 * 1024 * 1024)) ]; then
  echo "test: under 8 GB free: removing target/debug (test binaries) to make room for the fuzz build"
  rm -rf target/debug
fi
bash scripts/fuzz.sh "${DESKDRAFT_FUZZ_SECONDS:-20}"
free_disk "fuzzing"
