#!/usr/bin/env python3
"""Interleaved A/B timing of cnsctl processes (see BENCHMARKS.md).

Usage: scripts/process-ab.py BINARY [BINARY ...]

Runs each binary on the same commands (a warm `bundle` of the embedded example recipe per
deployer, and `recipe` for eks/h100/ubuntu/training), alternating the binaries run by run
so machine noise hits them alike, and prints min / median wall time per binary and
command. The first 5 rounds warm up and are not counted. Times include Python's process
spawn (~1 ms); compare binaries within one run only.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROUNDS, WARMUP = 105, 5


def main() -> None:
    bins = [os.path.abspath(b) for b in sys.argv[1:]]
    if not bins:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as work:
        os.environ.setdefault("CNS_CACHE_DIR", os.path.join(work, "cache"))
        cmds = {
            d: ["-q", "bundle", "--deployer", d, "--output", os.path.join(work, d), "--force"]
            for d in ("script", "argocd", "flux")
        }
        cmds["recipe"] = ["-q", "recipe", "--service", "eks", "--accelerator", "h100",
                          "--os", "ubuntu", "--intent", "training"]
        res = {(b, c): [] for b in bins for c in cmds}
        for rnd in range(ROUNDS):
            for c, args in cmds.items():
                for b in bins if rnd % 2 == 0 else bins[::-1]:
                    t = time.perf_counter()
                    subprocess.run([b] + args, stdout=subprocess.DEVNULL, check=True)
                    if rnd >= WARMUP:
                        res[(b, c)].append(time.perf_counter() - t)
    for c in cmds:
        for b in bins:
            v = res[(b, c)]
            print(f"{c:7} {os.path.basename(b):16} min {min(v) * 1e3:6.2f} ms"
                  f"  median {statistics.median(v) * 1e3:6.2f} ms")


if __name__ == "__main__":
    main()
