#!/usr/bin/env bash
# Mirror throughput on loopback (part 6 of scripts/bench.sh; see BENCHMARKS.md): two
# docker-registry processes on 127.0.0.1; the source is seeded with one artifact per image of
# the example recipe's gpu-operator (the GPU driver's carrying a SIZE_MIB random file, the
# others a few KiB), then `cnsctl mirror --from … --to …` copies them, and again (nothing
# left to copy). Registry and cnsctl share the same cores.
# Usage: scripts/mirror-bench.sh [CNSCTL] [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(pwd)/target/release/cnsctl}"
size="${2:-256}"
command -v docker-registry >/dev/null 2>&1 || bash scripts/setup.sh

work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
start_registry() { # NAME: starts it, sets $addr to 127.0.0.1:PORT
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$work/$1"
  printf 'version: 0.1\nlog: {level: warn}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/$1/data" "$port" >"$work/$1/config.yml"
  docker-registry serve "$work/$1/config.yml" >"$work/$1/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
  addr="127.0.0.1:$port"
}
start_registry src; src="$addr"
start_registry dst; dst="$addr"

# Two bundle directories to push as stand-in images: a small one, and one with SIZE_MIB MiB.
"$bin" -q bundle -b cert-manager --output "$work/small"
cp -r "$work/small" "$work/big"
head -c "$((size * 1024 * 1024))" /dev/urandom >"$work/big/blob.bin"
(cd "$work/big" && find . -type f ! -name checksums.txt -printf '%P\n' | LC_ALL=C sort \
  | xargs sha256sum >checksums.txt)

"$bin" -q images -b gpu-operator >"$work/images.txt"
while read -r ref; do
  repo="${ref%%@*}"; tag="${repo##*:}"; repo="${repo%:*}"; path="${repo#*/}"
  dir="$work/small"; case "$ref" in */driver:*) dir="$work/big";; esac
  "$bin" -q push "$dir" "oci://$src/src/$path:$tag" --plain-http >/dev/null
done <"$work/images.txt"

run() {
  "$bin" mirror -b gpu-operator --from "oci://$src/src" --to "oci://$dst/m" \
    --plain-http --source-plain-http 2>&1 | grep '^mirrored '
}
echo "first copy:  $(run)"
echo "second copy: $(run)"
