#!/usr/bin/env bash
# Sourced by the other scripts: selects an installed Rust toolchain that can build deskdraft.
# qdrant-edge 0.9 needs Rust >= 1.96. Use the default toolchain when it is new enough, otherwise
# an installed nightly >= 1.96 (through RUSTUP_TOOLCHAIN). No nightly features are used.

deskdraft_minimum_minor=96

deskdraft_rustc_minor() {
  # "rustc 1.97.0-nightly (...)" -> 97
  "$@" --version 2>/dev/null | sed -n 's/^rustc 1\.\([0-9]*\)\..*/\1/p'
}

deskdraft_select_toolchain() {
  if [ -n "${RUSTUP_TOOLCHAIN:-}" ]; then
    local minor
    minor=$(deskdraft_rustc_minor rustc)
    if [ -n "$minor" ] && [ "$minor" -ge "$deskdraft_minimum_minor" ]; then
      return 0
    fi
    echo "toolchain: RUSTUP_TOOLCHAIN=$RUSTUP_TOOLCHAIN gives Rust 1.${minor:-?}, older than 1.$deskdraft_minimum_minor; looking for another" >&2
    unset RUSTUP_TOOLCHAIN
  fi
  local default_minor
  default_minor=$(deskdraft_rustc_minor rustc)
  if [ -n "$default_minor" ] && [ "$default_minor" -ge "$deskdraft_minimum_minor" ]; then
    return 0
  fi
  if command -v rustup >/dev/null 2>&1; then
    local toolchain minor
    for toolchain in $(rustup toolchain list 2>/dev/null | awk '{print $1}' | sort -r); do
      minor=$(deskdraft_rustc_minor rustup run "$toolchain" rustc)
      if [ -n "$minor" ] && [ "$minor" -ge "$deskdraft_minimum_minor" ]; then
        export RUSTUP_TOOLCHAIN="$toolchain"
        echo "toolchain: default Rust is 1.${default_minor:-?}; using installed $toolchain (Rust 1.$minor)" >&2
        return 0
      fi
    done
  fi
  echo "toolchain: deskdraft needs Rust >= 1.$deskdraft_minimum_minor (qdrant-edge uses std::debug_assert_matches)." >&2
  echo "toolchain: the default is 1.${default_minor:-?} and no installed toolchain is new enough." >&2
  echo "toolchain: install one, e.g. 'rustup toolchain install stable' once 1.$deskdraft_minimum_minor is stable, or 'rustup toolchain install nightly'." >&2
  return 1
}

deskdraft_select_toolchain || exit 1
