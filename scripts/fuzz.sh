#!/usr/bin/env bash
# Bounded fuzzing of the parsers of untrusted input (fuzz/README.md): builds the cargo-fuzz
# targets once, then runs each for N seconds (first argument, else DESKDRAFT_FUZZ_SECONDS, else
# 30) on a temporary copy of its committed seeds, so CI never grows the committed corpus.
# A crash fails the script with the crashing input's path (kept under fuzz/artifacts/).
#   bash scripts/fuzz.sh [seconds-per-target]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh

seconds="${1:-${DESKDRAFT_FUZZ_SECONDS:-30}}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz: seconds per target must be a positive integer, not '$seconds'" >&2
  exit 2
fi

# libFuzzer's instrumentation needs a nightly compiler: keep the one toolchain.sh chose when it
# is a nightly, else take an installed nightly that can build deskdraft.
if ! rustc --version | grep -q nightly; then
  for toolchain in $(rustup toolchain list 2>/dev/null | awk '/^nightly/ {print $1}'); do
    minor=$(deskdraft_rustc_minor rustup run "$toolchain" rustc)
    if [ -n "$minor" ] && [ "$minor" -ge "$deskdraft_minimum_minor" ]; then
      export RUSTUP_TOOLCHAIN="$toolchain"
      break
    fi
  done
  if ! rustc --version | grep -q nightly; then
    echo "fuzz: cargo fuzz needs a nightly Rust >= 1.$deskdraft_minimum_minor: 'rustup toolchain install nightly'" >&2
    exit 1
  fi
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is not installed; installing it from crates.io (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check

# Its own target dir: the instrumented build shares nothing with the main one. No sanitizer:
# the code fuzzed is safe Rust, and AddressSanitizer would lengthen the build CI pays for; debug
# assertions and overflow checks come from fuzz/Cargo.toml's profile.
export CARGO_TARGET_DIR="$PWD/fuzz/target"
build_flags=(--release --sanitizer none --codegen-units 16 --target-dir "$CARGO_TARGET_DIR")
echo "fuzz: building the targets ($(rustc --version))"
start=$(date +%s)
cargo fuzz build "${build_flags[@]}"
echo "fuzz: build took $(($(date +%s) - start)) s"

host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$CARGO_TARGET_DIR/$host/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=0
summary=()
for target in $(cargo fuzz list); do
  corpus="$work/corpus-$target"
  artifacts="fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  cp fuzz/corpus/"$target"/* "$corpus"/
  dict=()
  if [ -f "fuzz/dict/$target.dict" ]; then
    dict=("-dict=fuzz/dict/$target.dict")
  fi
  log="$work/$target.log"
  echo "fuzz: $target for $seconds s"
  status=0
  "$bin_dir/$target" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  took=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -n 1)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1 || true)
  if [ "$status" -ne 0 ]; then
    failed=1
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "fuzz: $target FAILED (exit $status):" >&2
    grep -A 4 'panicked at' "$log" >&2 || true
    echo "fuzz: $target: the log ends:" >&2
    tail -n 12 "$log" >&2
    echo "fuzz: $target crashing input: ${crash:-(none written; see the log above)}" >&2
    echo "fuzz: reproduce with: cargo fuzz run ${build_flags[*]} $target ${crash:-}" >&2
    summary+=("fuzz: $target: CRASHED (input ${crash:-unknown})")
  else
    summary+=("fuzz: $target: ${runs:-?} executions in ${took:-?} s, ${coverage:-no coverage line}, no crash")
  fi
done

printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: a target crashed: add the input as a unit test in the module that owns the code" >&2
  exit 1
fi
