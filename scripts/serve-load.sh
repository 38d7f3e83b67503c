#!/usr/bin/env bash
# Load test of `cnsctl serve` on 127.0.0.1 (part 5 of scripts/bench.sh; see BENCHMARKS.md):
# recipe GET and bundle POST (the embedded example recipe, argocd) at concurrency 1, 8 and 64
# with wrk (throughput, p50, p99, the server's CPU), rendering every request (--cache-mib 0),
# then its RSS before and after a bundle soak; then a second server with the bundle cache on:
# the same repeated requests (answered from the cache) and a soak of distinct bundles that
# overflows a small cache (RSS against the cap). The load generator runs on the same cores.
# Usage: scripts/serve-load.sh [CNSCTL] [SECONDS_PER_RUN] [SOAK_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(pwd)/target/release/cnsctl}"
secs="${2:-10}"
soak="${3:-60}"
command -v wrk >/dev/null 2>&1 || bash scripts/setup.sh

work="$(mktemp -d)"
pid=""
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
start_server() { # extra serve flags…
  [ -z "$pid" ] || { kill "$pid"; wait "$pid" 2>/dev/null || true; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" serve --listen "127.0.0.1:$port" --rate-limit 0 --no-access-log --max-queued 4096 "$@" \
    2>"$work/server.log" &
  pid=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 200); do
    curl -fs "$base/ready" >/dev/null 2>&1 && break
    sleep 0.05
  done
  curl -fs "$base/ready" >/dev/null
}
start_server --cache-mib 0

recipe_url="$base/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training"
curl -fs "$recipe_url" >"$work/recipe.json"
python3 - "$work/recipe.json" "$work/post.lua" <<'PY'
import json, sys
body = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(
    'wrk.method = "POST"\n'
    'wrk.headers["Content-Type"] = "application/json"\n'
    # As most HTTP clients do: the zip then comes gzip-encoded (the costlier answer).
    'wrk.headers["Accept-Encoding"] = "gzip"\n'
    f'wrk.body = {json.dumps(body)}\n'
)
PY
bundle_path="/v1/bundle?deployer=argocd"
bundle_url="$base$bundle_path"
# Distinct bundles, one per request (the Argo CD revision differs), for the cache's soak.
{ cat "$work/post.lua"; cat <<'LUA'
n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/bundle?deployer=argocd&revision=r" .. n)
end
LUA
} >"$work/distinct.lua"
# The bundle answered equals the CLI's (a sanity check before timing it).
curl -fs -X POST -H 'Content-Type: application/json' --data-binary @"$work/recipe.json" \
  "$bundle_url" -o "$work/b.zip"
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
# The server's CPU time so far (user + system, clock ticks; its name has no spaces).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tick=$(getconf CLK_TCK)

# wrk: threads = min(connections, cores); summary line per run.
load() { # name connections url [script]
  local name=$1 c=$2 url=$3 script=${4:-}
  local t=$(( c < $(nproc) ? c : $(nproc) ))
  local args=(-t "$t" -c "$c" -d "${secs}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  local c0 c1 t0 t1
  c0=$(cpu_ticks); t0=$(date +%s.%N)
  wrk "${args[@]}" "$url" >"$work/wrk.txt"
  c1=$(cpu_ticks); t1=$(date +%s.%N)
  python3 - "$name" "$c" "$work/wrk.txt" "$(( c1 - c0 ))" "$tick" "$t0" "$t1" <<'PY'
import re, sys
name, c, path = sys.argv[1], sys.argv[2], sys.argv[3]
cpu_s = int(sys.argv[4]) / int(sys.argv[5])
wall = float(sys.argv[7]) - float(sys.argv[6])
t = open(path).read()
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
extra = (f"  non-2xx {errs.group(1)}" if errs else "") + (f"  socket errors: {sock.group(1)}" if sock else "")
# The server's CPU: how many cores it kept busy, and requests per CPU-second it spent
# (equal at every concurrency when nothing serialises the requests).
busy = cpu_s / wall
print(f"{name:<8} c={c:<3} {rps:10.0f} req/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"
      f"   server CPU {busy:4.2f} cores, {rps / busy if busy else 0:6.0f} req per CPU-s{extra}")
PY
}

echo "== 5. cnsctl serve on loopback ($(nproc) cores, wrk on the same machine, ${secs}s per run; every bundle rendered: --cache-mib 0)"
[ -n "${SKIP_RECIPE:-}" ] || for c in 1 8 64; do load recipe "$c" "$recipe_url"; done
for c in 1 8 64; do load bundle "$c" "$bundle_url" "$work/post.lua"; done
before=$(rss)
secs=$soak load soak 8 "$bundle_url" "$work/post.lua"
after=$(rss)
python3 -c "b,a=$before,$after; print(f'RSS over a {$soak}s bundle soak at c=8: {b/1024:.1f} MiB -> {a/1024:.1f} MiB ({(a-b)/b*100:+.1f} %)')"
curl -fs "$base/metrics" | grep -E '^cns_(bundles_rendered_total|plugin_errors_total|http_requests_total\{method="POST")' || true

cap=8
echo "== 5b. the same repeated bundle requests with the cache on; then distinct bundles through a ${cap} MiB cache"
start_server
for c in 1 8 64; do load cached "$c" "$base$bundle_path" "$work/post.lua"; done
start_server --cache-mib "$cap"
# Warm: fill the cache past its cap once, then measure RSS over the soak.
secs=5 load fill 8 "$base$bundle_path" "$work/distinct.lua" >/dev/null
before=$(rss)
secs=$soak load distinct 8 "$base$bundle_path" "$work/distinct.lua"
after=$(rss)
curl -fs "$base/metrics" | grep -E '^cns_bundle_cache' || true
python3 -c "b,a,cap=$before,$after,$cap; print(f'RSS over a {$soak}s soak of distinct bundles through a {cap} MiB cache: {b/1024:.1f} MiB -> {a/1024:.1f} MiB ({(a-b)/1024:+.1f} MiB; the cache was full before)')"
