#!/usr/bin/env bash
# Build the snapshot agent image with buildah (no daemon), check it runs, and optionally push it.
#
#   scripts/agent-image.sh [--binary PATH] [--tag NAME:TAG] [--push REGISTRY/REPO[:TAG]] [--plain-http] [--rm]
#
# --rm removes the image from local storage when done (after pushing it).
# Defaults: the release binary (target/release/cnsctl) and the tag cnsctl-agent:VERSION.
# Storage is buildah's vfs driver with chroot isolation, which works as root without a daemon
# or overlay support. Prints the image's size and, when pushed, its reference.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=target/release/cnsctl
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
tag="cnsctl-agent:${version}"
push=""
tls=true
rm_after=false
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --push) push=$2; shift 2 ;;
    --plain-http) tls=false; shift ;;
    --rm) rm_after=true; shift ;;
    *) echo "agent-image.sh: unknown argument \`$1\`" >&2; exit 2 ;;
  esac
done
[ -x "$binary" ] || { echo "agent-image.sh: \`$binary\` is not an executable (build it first: cargo build --release)" >&2; exit 2; }
command -v buildah >/dev/null || { echo "agent-image.sh: buildah is not installed (scripts/setup.sh installs it)" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/rootfs/usr/local/bin" "$stage/rootfs/tmp"
chmod 1777 "$stage/rootfs/tmp"
install -m 0755 "$binary" "$stage/rootfs/usr/local/bin/cnsctl"
# Symbols and debug info are of no use in the image (a debug build shrinks by more than half).
if command -v strip >/dev/null; then strip "$stage/rootfs/usr/local/bin/cnsctl"; fi
# Every library the binary resolves, and the loader, at the same paths inside the image.
ldd "$binary" | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}' | sort -u | while read -r lib; do
  cp --parents -L "$lib" "$stage/rootfs/"
done
cp deploy/agent/Containerfile "$stage/Containerfile"

b=(buildah --storage-driver vfs)
# A rebuild under the same tag replaces the old image instead of leaving it dangling.
"${b[@]}" rmi -f "$tag" >/dev/null 2>&1 || true
"${b[@]}" build --quiet --isolation chroot --layers=false -f "$stage/Containerfile" -t "$tag" "$stage" >/dev/null
ctr=$("${b[@]}" from --quiet --pull=never "$tag")
trap '"${b[@]}" rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$stage"' EXIT
echo "==> $tag: cnsctl version inside the image"
"${b[@]}" run --isolation chroot "$ctr" -- /usr/local/bin/cnsctl version
size=$("${b[@]}" images --noheading --format '{{.Size}}' "$tag" 2>/dev/null | head -1)
echo "==> $tag: ${size:-?} ($(du -sk "$stage/rootfs" | cut -f1) KiB unpacked)"
if [ -n "$push" ]; then
  "${b[@]}" push --quiet --tls-verify="$tls" "$tag" "docker://$push"
  echo "==> pushed $push"
fi
if $rm_after; then
  "${b[@]}" rm "$ctr" >/dev/null 2>&1 || true
  "${b[@]}" rmi -f "$tag" >/dev/null
fi
