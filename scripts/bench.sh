#!/usr/bin/env bash
# Benchmarks of cnsctl as users run it, on this machine, in one run (see BENCHMARKS.md):
#   1. in-process: WASM vs native plugins, plugin loading cold/warm, the whole matrix
#      (cargo bench --bench bundle, release profile);
#   2. recipe resolution per combination and for the matrix (cargo bench -p cns-recipe);
#   3. `cnsctl bundle` as a process, cold (empty compiled-plugin cache) and warm, per deployer
#      (hyperfine);
#   4. push and pull+verify of a signed bundle to a docker-registry on 127.0.0.1 (hyperfine);
#   5. cnsctl serve under load (scripts/serve-load.sh); 6. mirror (scripts/mirror-bench.sh).
# Installs hyperfine and docker-registry with apt if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/setup.sh

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "== 1. in-process (cargo bench --bench bundle)"
cargo bench -q --bench bundle
echo "== 2. recipe resolution (cargo bench -p cns-recipe --bench resolve)"
cargo bench -q -p cns-recipe --bench resolve

cargo build -q --release
bin="$(pwd)/target/release/cnsctl"
work="$(mktemp -d)"
trap 'kill "$(cat "$work/registry.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$work"' EXIT
export CNS_CACHE_DIR="$work/cache"

echo "== 3. cnsctl bundle as a process (embedded example recipe, 5 components)"
for d in script argocd flux; do
  hyperfine -N --warmup 1 --runs 10 --export-json "$work/cold-$d.json" \
    --prepare "rm -rf $CNS_CACHE_DIR $work/out" \
    --command-name "cold $d" "$bin -q bundle --deployer $d --output $work/out"
  hyperfine -N --warmup 3 --runs 30 --export-json "$work/warm-$d.json" \
    --command-name "warm $d" "$bin -q bundle --deployer $d --output $work/out --force"
done

echo "== 4. push / pull+verify on loopback"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<CFG
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $work/registry/data}
http:
  addr: 127.0.0.1:$port
CFG
docker-registry serve "$work/registry/config.yml" >"$work/registry.log" 2>&1 &
echo $! > "$work/registry.pid"
for _ in $(seq 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v2/')" 2>/dev/null && break
  sleep 0.1
done
cd "$work"
CNS_SIGN_PASSWORD=bench "$bin" -q generate-key-pair
"$bin" -q bundle --output "$work/b"
ref="oci://127.0.0.1:$port/bench/bundle:v1"
CNS_SIGN_PASSWORD=bench "$bin" -q push "$work/b" "$ref" --plain-http --sign-key cosign.key >/dev/null
# First push into a fresh repository (every blob uploaded), 10 repositories.
for i in $(seq 10); do
  s=$(date +%s%N)
  CNS_SIGN_PASSWORD=bench "$bin" -q push "$work/b" "oci://127.0.0.1:$port/bench/fresh$i:v1" \
    --plain-http --sign-key cosign.key >/dev/null
  echo $(( ($(date +%s%N) - s) / 1000 ))
done | python3 -c 'import sys, statistics as st; v=sorted(int(l)/1000 for l in sys.stdin); print(f"push (signed, fresh repository): min {v[0]:.1f} ms, median {st.median(v):.1f} ms ({len(v)} runs)")'
hyperfine -N --warmup 2 --runs 20 --export-json "$work/push.json" \
  --command-name "push (signed, blobs already present)" \
  "env CNS_SIGN_PASSWORD=bench $bin -q push $work/b $ref --plain-http --sign-key cosign.key"
hyperfine -N --warmup 2 --runs 20 --export-json "$work/pull.json" --prepare "rm -rf $work/p" \
  --command-name "pull + verify" \
  "$bin -q pull $ref --output $work/p --verify-key cosign.pub --plain-http"

echo "== summary of the process runs (hyperfine): min / median"
python3 - "$work"/cold-*.json "$work"/warm-*.json "$work/push.json" "$work/pull.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    for r in json.load(open(path))["results"]:
        print(f"{r['command']:<40} {r['min']*1000:9.1f} ms {r['median']*1000:9.1f} ms  ({len(r['times'])} runs)")
PY

bash "$repo/scripts/serve-load.sh" "$bin"
bash "$repo/scripts/mirror-bench.sh" "$bin"
