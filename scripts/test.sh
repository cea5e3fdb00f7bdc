#!/usr/bin/env bash
# Runs every test. Installs what the tests need first (the embedding model; Debian's chromium for
# the report screenshot test; Debian's postgresql for the PostgreSQL queue tests, which start
# throwaway clusters themselves on 127.0.0.1), so it works on a fresh machine. Tests that read ../shared say so
# and skip visibly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

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
cargo test --doc

# Bounded fuzzing of the parsers of untrusted input (fuzz/README.md): a cold build of the
# instrumented targets (about 550-620 CPU-seconds) plus DESKDRAFT_FUZZ_SECONDS (default 20) per target.
bash scripts/fuzz.sh "${DESKDRAFT_FUZZ_SECONDS:-20}"
