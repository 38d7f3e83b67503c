#!/usr/bin/env bash
# Build cnsctl for aarch64 Linux (GB200/GB300 Grace nodes) on an x86_64 machine, for the
# arm64 half of the agent image (scripts/agent-image.sh --binary-arm64).
#
#   scripts/cross-aarch64.sh [--release]
#
# Toolchain: rustup's aarch64-unknown-linux-gnu target where it is installed; otherwise
# Debian's rustc-web with the aarch64 standard library from libstd-rust-web-dev:arm64
# (`dpkg --add-architecture arm64`), which matches rustc-web's version. The linker and the C
# compiler (ring's, zstd's) are gcc-aarch64-linux-gnu; the C library libc6-dev-arm64-cross.
# scripts/setup.sh --cross installs them. The plugins are WebAssembly either way; the binary
# compiles them on first use (the build script precompiles only for the machine it runs on).
# Prints the binary's path. A clean debug build took ~25 min on the 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
profile=debug
args=()
if [ "${1:-}" = "--release" ]; then profile=release; args+=(--release); fi

if ! rustc --print target-libdir --target "$target" 2>/dev/null | xargs -r ls 2>/dev/null | grep -q '^libstd-'; then
  if ! { [ -x /usr/bin/rustc ] && ls /usr/lib/rustlib/$target/lib/libstd-*.rlib >/dev/null 2>&1; }; then
    echo "cross-aarch64.sh: no aarch64 standard library: install rustup's $target target, or Debian's rustc-web and libstd-rust-web-dev:arm64 (scripts/setup.sh --cross)" >&2
    exit 2
  fi
  export RUSTC=/usr/bin/rustc
fi
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "cross-aarch64.sh: aarch64-linux-gnu-gcc is missing (gcc-aarch64-linux-gnu)" >&2; exit 2; }
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# No debug info: the image strips it anyway, and it halves what the linker writes.
export CARGO_PROFILE_DEV_DEBUG=0
cargo build -q --bin cnsctl --target "$target" --target-dir target/cross "${args[@]}"
echo "target/cross/$target/$profile/cnsctl"
