#!/usr/bin/env bash
# Runs cnsctl's node collectors on a real GPU machine and keeps what they and the driver saw,
# so the snapshot's GPU readings can be compared with nvidia-smi's own on the same node.
#
#   scripts/gpu-node-check.sh CNSCTL OUTDIR
#
# OUTDIR gets at most eight files: log.txt (every command, its exit code and stderr),
# nvidia-smi-q.xml, driver-version.txt, pci-nvidia.txt, snapshot.yaml, recipe.yaml,
# validate.yaml and timing.txt. Nothing is installed or changed on the node.
set -u
bin=${1:?usage: gpu-node-check.sh CNSCTL OUTDIR}
out=${2:?usage: gpu-node-check.sh CNSCTL OUTDIR}
mkdir -p "$out"
log="$out/log.txt"
: >"$log"

step() { # step NAME CMD...: run CMD, log its exit code and stderr
  local name=$1
  shift
  {
    echo "## $name: $*"
    "$@"
    echo "## $name: exit $?"
  } 2>>"$log" >>"$log"
}

# shellcheck disable=SC2129 # the log is appended to by several steps on purpose
{
  uname -a
  sed -n '1,4p' /etc/os-release
  nvidia-smi -L
  nvidia-smi --query-gpu=name,pci.device_id,driver_version,memory.total,mig.mode.current --format=csv
  "$bin" version
} >>"$log" 2>&1

nvidia-smi -q -x >"$out/nvidia-smi-q.xml" 2>>"$log"
cat /proc/driver/nvidia/version >"$out/driver-version.txt" 2>>"$log"
for d in /sys/bus/pci/devices/*; do
  [ "$(cat "$d/vendor")" = 0x10de ] || continue
  echo "${d##*/} vendor=0x10de device=$(cat "$d/device") class=$(cat "$d/class") numa=$(cat "$d/numa_node")"
done >"$out/pci-nvidia.txt"

step snapshot "$bin" snapshot --no-kubernetes -o "$out/snapshot.yaml" -vv
step schema "$bin" validate --schema "$out/snapshot.yaml"
step recipe "$bin" recipe --snapshot "$out/snapshot.yaml" --intent training -o "$out/recipe.yaml"
# A recipe that exists for any node, so its constraints can be checked against this one.
step recipe-h100 "$bin" recipe --snapshot "$out/snapshot.yaml" --service eks --accelerator h100 \
  --os ubuntu --intent training -o "$out/recipe-h100.yaml"
step validate "$bin" validate --recipe "$out/recipe-h100.yaml" --snapshot "$out/snapshot.yaml" \
  -o "$out/validate.yaml"
rm -f "$out/recipe-h100.yaml"

# How long one snapshot takes on this node (nvidia-smi dominates), 10 runs.
{
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    s=$(date +%s%N)
    "$bin" snapshot --no-kubernetes -q >/dev/null
    e=$(date +%s%N)
    echo "snapshot_ms $(((e - s) / 1000000))"
  done
  s=$(date +%s%N)
  nvidia-smi -q -x >/dev/null
  e=$(date +%s%N)
  echo "nvidia_smi_q_x_ms $(((e - s) / 1000000))"
} >"$out/timing.txt" 2>&1
echo "## done" >>"$log"
