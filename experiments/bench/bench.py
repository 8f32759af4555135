"""`make bench`: cost of the shared probe vs the floor and vs one pass set per proxy.

Modes, each in its own process (so peak RSS is the mode's own), per architecture, batch 64:
  a  one bare forward + backward (the floor)
  b  lswag
  c  the 13 NAS-Bench-Suite-Zero proxies, fused (one shared probe)
  d  the same 13, a fresh probe per proxy (the NASLib way)
on 20 NB201 cells (CIFAR-10, 32x32) and 5 AutoFormer-Tiny subnets (224x224). Medians over archs x
repeats; ratios from the same run. Writes experiments/bench/results.json and prints a table.

Usage: python experiments/bench/bench.py [--repeats 3] [--nb201 20] [--autoformer 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SUITE = ["params", "flops", "synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "epe_nas",
         "zen", "plain", "l2_norm"]
OUT = Path(__file__).resolve().parent / "results.json"


def worker(mode: str, space_name: str, n: int, repeats: int) -> None:
    """Time ``mode`` on ``n`` archs of ``space_name``; print JSON {times, maxrss_mb}."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from omegaconf import OmegaConf

    from zcnas.data import Task
    from zcnas.run import probe_and_score
    from zcnas.spaces import AutoFormerSpace, NB201Space

    if space_name == "nb201":
        space, task, share = NB201Space(), Task(), False
    else:
        space, task, share = AutoFormerSpace(variant="tiny", img_size=224), Task(resolution=224, num_classes=100), True
    x, y = task.batch(64, 0)
    archs = space.sample(n, np.random.default_rng(0))
    probe_cfg = OmegaConf.create({"share_passes": share, "share_splits": 2})
    proxies = {"b": {"lswag": {}}, "c": {p: {} for p in SUITE}, "d": {p: {} for p in SUITE}}.get(mode)
    times = []
    for _ in range(repeats):
        for arch in archs:
            torch.manual_seed(0)
            model = space.build(arch, num_classes=task.num_classes)
            t0 = time.perf_counter()
            if mode == "a":
                model.zero_grad()
                F.cross_entropy(model(x), y).backward()
            else:
                probe_and_score(model, x, y, proxies, probe_cfg, "bench", fused=(mode != "d"))
            times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--nb201", type=int, default=20)
    ap.add_argument("--autoformer", type=int, default=5)
    ap.add_argument("--worker", nargs=4, metavar=("MODE", "SPACE", "N", "REPEATS"))
    args = ap.parse_args()
    if args.worker:
        mode, space, n, rep = args.worker
        worker(mode, space, int(n), int(rep))
        return
    results = {}
    for space, n in (("nb201", args.nb201), ("autoformer", args.autoformer)):
        for mode in "abcd":
            out = subprocess.run([sys.executable, __file__, "--worker", mode, space, str(n), str(args.repeats)],
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            results[f"{space}/{mode}"] = {"median_s": statistics.median(r["times"]), "maxrss_mb": r["maxrss_mb"],
                                          "n": len(r["times"])}
            print(space, mode, results[f"{space}/{mode}"], flush=True)
    for space in ("nb201", "autoformer"):
        m = {k: results[f"{space}/{k}"] for k in "abcd"}
        results[f"{space}/ratios"] = {"b_over_a": m["b"]["median_s"] / m["a"]["median_s"],
                                      "d_over_c": m["d"]["median_s"] / m["c"]["median_s"],
                                      "rss_b_over_a": m["b"]["maxrss_mb"] / m["a"]["maxrss_mb"]}
        print(space, results[f"{space}/ratios"])
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
