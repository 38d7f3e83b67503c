#!/usr/bin/env python3
"""Interleaved A/B timing of cnsctl processes: alternates the binaries run by run, so
machine noise hits both alike. Prints min / median wall time per binary and command."""
import os, statistics, subprocess, sys, time
bins = sys.argv[1:]
out = "/tmp/hf/out"
cmds = {d: ["-q", "bundle", "--deployer", d, "--output", out + "-" + d, "--force"] for d in ("script", "argocd", "flux")}
cmds["recipe"] = ["-q", "recipe", "--service", "eks", "--accelerator", "h100", "--os", "ubuntu", "--intent", "training"]
res = {(b, c): [] for b in bins for c in cmds}
for rnd in range(105):
    for c, args in cmds.items():
        for b in (bins if rnd % 2 == 0 else bins[::-1]):
            t = time.perf_counter()
            subprocess.run([b] + args, stdout=subprocess.DEVNULL, check=True)
            if rnd >= 5:
                res[(b, c)].append(time.perf_counter() - t)
for c in cmds:
    for b in bins:
        v = res[(b, c)]
        print(f"{c:7} {os.path.basename(b):16} min {min(v)*1e3:6.2f} ms  median {statistics.median(v)*1e3:6.2f} ms")
