#!/usr/bin/env bash
# Installs axe-core (Deque's accessibility engine, MPL-2.0) from the npm registry into the
# git-ignored target/axe-core/, for the review console's browser test (tests/review_console.rs).
# npm checks the package against the registry's integrity hash. Without npm, or offline, the test
# says it skipped its axe checks. Pinned, so every machine checks with the same rules.
set -euo pipefail
cd "$(dirname "$0")/.."
AXE_VERSION="${AXE_VERSION:-4.14.1}"
TARGET=target/axe-core
if [ -f "$TARGET/node_modules/axe-core/axe.min.js" ] \
  && grep -q "\"version\": \"$AXE_VERSION\"" "$TARGET/node_modules/axe-core/package.json" 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-axe: npm not found; the console's axe-core checks will say they skipped"
  exit 0
fi
mkdir -p "$TARGET"
echo "fetch-axe: installing axe-core@$AXE_VERSION from the npm registry into $TARGET"
npm install --silent --no-audit --no-fund --no-save --prefix "$TARGET" "axe-core@$AXE_VERSION" \
  || echo "fetch-axe: could not install axe-core; the console's axe-core checks will say they skipped"
