#!/usr/bin/env bash
# Installs what building and testing cnsctl needs and a fresh Debian machine lacks:
# the WebAssembly toolchain for the plugins (Debian's rustc-web + std sources + lld, used
# with -Zbuild-std) unless rustup already has the wasm32-unknown-unknown target, and the
# real tools the tests run (shellcheck, sha256sum). Safe to run again.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(shellcheck coreutils)
if ! rustc --print target-libdir --target wasm32-unknown-unknown 2>/dev/null | xargs -r ls 2>/dev/null | grep -q '^libstd-'; then
  packages+=(rustc-web cargo-web rust-web-src lld-22)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
