#!/usr/bin/env bash
# Build the snapshot agent image with buildah (no daemon), check it runs, and optionally push it.
#
#   scripts/agent-image.sh [--binary PATH] [--binary-arm64 PATH] [--tag NAME:TAG]
#                          [--push REGISTRY/REPO[:TAG]] [--plain-http] [--rm]
#
# --binary-arm64 (an aarch64 cnsctl, scripts/cross-aarch64.sh) makes the image an OCI index
# for linux/amd64 and linux/arm64 (GB200/GB300 Grace nodes): each platform's image holds its
# binary and the libraries it needs (the arm64 ones from Debian's cross C library); the arm64
# binary is checked with qemu-user (`cnsctl version` and a local snapshot, in the image's
# filesystem). --rm removes the image from local storage when done (after pushing it).
# Defaults: the release binary (target/release/cnsctl) and the tag cnsctl-agent:VERSION.
# Storage is buildah's vfs driver with chroot isolation, which works as root without a daemon
# or overlay support. Prints the image's size and, when pushed, its reference.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=target/release/cnsctl
binary_arm64=""
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
tag="cnsctl-agent:${version}"
push=""
tls=true
rm_after=false
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --binary-arm64) binary_arm64=$2; shift 2 ;;
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
b=(buildah --storage-driver vfs)

# stage DIR BINARY ARCH: the root filesystem of one platform's image under DIR/rootfs.
stage_rootfs() {
  local dir=$1 bin=$2 arch=$3
  mkdir -p "$dir/rootfs/usr/local/bin" "$dir/rootfs/tmp"
  chmod 1777 "$dir/rootfs/tmp"
  install -m 0755 "$bin" "$dir/rootfs/usr/local/bin/cnsctl"
  cp deploy/agent/Containerfile "$dir/Containerfile"
  if [ "$arch" = amd64 ]; then
    # Symbols and debug info are of no use in the image (a debug build shrinks by more than half).
    if command -v strip >/dev/null; then strip "$dir/rootfs/usr/local/bin/cnsctl"; fi
    # Every library the binary resolves, and the loader, at the same paths inside the image.
    ldd "$bin" | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}' | sort -u | while read -r lib; do
      cp --parents -L "$lib" "$dir/rootfs/"
    done
  else
    command -v aarch64-linux-gnu-readelf >/dev/null || { echo "agent-image.sh: aarch64-linux-gnu-readelf is missing (scripts/setup.sh --cross)" >&2; exit 2; }
    aarch64-linux-gnu-strip "$dir/rootfs/usr/local/bin/cnsctl"
    # The loader and each NEEDED library, transitively, from Debian's cross C library, where
    # an arm64 Debian has them (/lib/ld-linux-aarch64.so.1, /lib/aarch64-linux-gnu/).
    local sysroot=/usr/aarch64-linux-gnu/lib
    mkdir -p "$dir/rootfs/lib/aarch64-linux-gnu"
    cp -L "$sysroot/ld-linux-aarch64.so.1" "$dir/rootfs/lib/ld-linux-aarch64.so.1"
    local todo seen=" "
    todo=$(aarch64-linux-gnu-readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    while [ -n "$todo" ]; do
      local next=""
      for lib in $todo; do
        case "$seen" in *" $lib "*) continue ;; esac
        seen="$seen$lib "
        [ -f "$sysroot/$lib" ] || { echo "agent-image.sh: $lib (needed by the arm64 binary) is not in $sysroot" >&2; exit 2; }
        cp -L "$sysroot/$lib" "$dir/rootfs/lib/aarch64-linux-gnu/$lib"
        next="$next $(aarch64-linux-gnu-readelf -d "$sysroot/$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
      done
      todo=$(echo "$next" | xargs -n1 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ *$//')
    done
  fi
}

# A rebuild under the same tag replaces the old image instead of leaving it dangling.
"${b[@]}" rmi -f "$tag" >/dev/null 2>&1 || true
"${b[@]}" manifest rm "$tag" >/dev/null 2>&1 || true
stage_rootfs "$stage/amd64" "$binary" amd64
if [ -z "$binary_arm64" ]; then
  "${b[@]}" build --quiet --isolation chroot --layers=false -f "$stage/amd64/Containerfile" -t "$tag" "$stage/amd64" >/dev/null
  run_tag=$tag
else
  [ -x "$binary_arm64" ] || { echo "agent-image.sh: \`$binary_arm64\` is not an executable (scripts/cross-aarch64.sh)" >&2; exit 2; }
  file -b "$binary_arm64" | grep -q 'ARM aarch64' || { echo "agent-image.sh: \`$binary_arm64\` is not an aarch64 ELF: $(file -b "$binary_arm64")" >&2; exit 2; }
  stage_rootfs "$stage/arm64" "$binary_arm64" arm64
  command -v qemu-aarch64 >/dev/null || { echo "agent-image.sh: qemu-aarch64 is missing (qemu-user, scripts/setup.sh --cross)" >&2; exit 2; }
  echo "==> linux/arm64: cnsctl version and a local snapshot under qemu-user, in the image's filesystem"
  # The image's own loader runs the binary with the image's libraries. Not `qemu-aarch64 -L
  # ROOTFS BINARY`: under qemu-user 7.2 (Debian 12) a dynamic aarch64 binary started that way
  # spins forever in its first pthread_create (a one-line C program does too), while the same
  # binary started through its loader runs.
  arm64() {
    local root=$stage/arm64/rootfs
    timeout -s KILL 600 qemu-aarch64 "$root/lib/ld-linux-aarch64.so.1" --library-path "$root/lib/aarch64-linux-gnu" "$root/usr/local/bin/cnsctl" "$@"
  }
  arm64 version
  arm64 snapshot --output "$stage/arm64-snapshot.yaml"
  # Its readings are the build machine's (qemu-user emulates the CPU, not the kernel: even
  # /proc/sys/kernel/arch says x86_64), so this checks that the arm64 binary wrote a snapshot.
  grep -q '^kind: Snapshot' "$stage/arm64-snapshot.yaml" || { echo "agent-image.sh: the arm64 binary wrote no snapshot" >&2; exit 1; }
  "${b[@]}" manifest create "$tag" >/dev/null
  for arch in amd64 arm64; do
    "${b[@]}" build --quiet --isolation chroot --layers=false --platform "linux/$arch" \
      -f "$stage/$arch/Containerfile" -t "$tag-$arch" "$stage/$arch" >/dev/null
    "${b[@]}" manifest add "$tag" "$tag-$arch" >/dev/null
  done
  run_tag=$tag-amd64
  echo "==> $tag: an index for $("${b[@]}" manifest inspect "$tag" | python3 -c 'import json,sys; print(", ".join(m["platform"]["os"]+"/"+m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"]))')"
fi
ctr=$("${b[@]}" from --quiet --pull=never "$run_tag")
trap '"${b[@]}" rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$stage"' EXIT
echo "==> $run_tag: cnsctl version inside the image"
"${b[@]}" run --isolation chroot "$ctr" -- /usr/local/bin/cnsctl version
size=$("${b[@]}" images --noheading --format '{{.Size}}' "$run_tag" 2>/dev/null | head -1)
echo "==> $run_tag: ${size:-?} ($(du -sk "$stage/amd64/rootfs" | cut -f1) KiB unpacked)"
if [ -n "$push" ]; then
  if [ -n "$binary_arm64" ]; then
    "${b[@]}" manifest push --quiet --all --tls-verify="$tls" "$tag" "docker://$push"
  else
    "${b[@]}" push --quiet --tls-verify="$tls" "$tag" "docker://$push"
  fi
  echo "==> pushed $push"
fi
if $rm_after; then
  "${b[@]}" rm "$ctr" >/dev/null 2>&1 || true
  if [ -n "$binary_arm64" ]; then
    "${b[@]}" manifest rm "$tag" >/dev/null 2>&1 || true
    "${b[@]}" rmi -f "$tag-amd64" "$tag-arm64" >/dev/null
  else
    "${b[@]}" rmi -f "$tag" >/dev/null
  fi
fi
