#!/usr/bin/env bash
# Runs every test. Installs what the tests need first (the embedding model), so it works on a
# fresh machine. Tests that read ../shared say so and skip visibly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

bash scripts/fetch-model.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
