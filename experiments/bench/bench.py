"""`make bench`: cost of the shared probe vs the floor and vs one pass set per proxy.

Modes, each in its own process (so peak RSS is the mode's own), per architecture, batch 64:
  a  one bare forward + backward (the floor)
  b  lswag
  c  the 13 NAS-Bench-Suite-Zero proxies, fused (one shared probe)
  d  the same 13, a fresh probe per proxy (the NASLib way)
  g  the benchmark-grid set (issue 14 part 6: lswag, zico, swap, reg_swap, nwot, meco, the three AZ-NAS
     terms, synflow, jacov, params, flops), fused
on 20 NB201 cells (CIFAR-10, 32x32) and 5 AutoFormer-Tiny subnets (224x224): modes a-d; on NB101 cells,
DARTS/NB301 genotypes (CIFAR-10, 32x32, batch 64) and TNB101 micro autoencoder / macro jigsaw networks
(256x256 / 9 x 64x64 tiles, batch 16 as conf/space/tnb101_*.yaml): modes a, b, g, with the full grid's
CPU-hours estimated from g (archs of each Suite-Zero column x 3 seeds). Medians over archs x repeats;
ratios from the same run. Merges into experiments/bench/results.json and prints a table.

Usage: python experiments/bench/bench.py [--repeats 3] [--nb201 20] [--autoformer 5] [--nb101 5] [--darts 5]
                                         [--tnb101 2] [--only nb101,darts,...]
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
from typing import Any

SUITE = ["params", "flops", "synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "epe_nas",
         "zen", "plain", "l2_norm"]
GRID = ["lswag", "zico", "swap", "reg_swap", "nwot", "meco", "aznas_expressivity", "aznas_progressivity",
        "aznas_trainability", "synflow", "jacov", "params", "flops"]
MODES = {"nb201": "abcd", "autoformer": "abcd", "nb101": "abg", "darts": "abg", "tnb101_micro_autoencoder": "abg",
         "tnb101_macro_jigsaw": "abg"}
# Suite-Zero labelled archs per grid column of each space (NB101 500, NB301 725, TNB101 micro 711, macro 725)
GRID_ARCHS = {"nb101": 500, "darts": 725, "tnb101_micro_autoencoder": 711, "tnb101_macro_jigsaw": 725}
OUT = Path(__file__).resolve().parent / "results.json"


def worker(mode: str, space_name: str, n: int, repeats: int) -> None:
    """Time ``mode`` on ``n`` archs of ``space_name``; print JSON {times, maxrss_mb}."""
    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from zcnas.data import Task
    from zcnas.data.tasks import TNB101Task
    from zcnas.run import probe_and_score
    from zcnas.spaces import AutoFormerSpace, DartsSpace, NB101Space, NB201Space, TNB101Space

    batch, share = 64, False
    task: Task = Task()
    if space_name == "nb201":
        space: Any = NB201Space()
    elif space_name == "nb101":
        space = NB101Space()
    elif space_name == "darts":
        space = DartsSpace()
    elif space_name.startswith("tnb101"):
        _, variant, kind = space_name.split("_")
        space, task, batch = TNB101Space(variant, kind), TNB101Task(name=kind), 16
    else:
        space, task, share = AutoFormerSpace(variant="tiny", img_size=224), Task(resolution=224, num_classes=100), True
    x, y = task.batch(batch, 0)
    archs = space.sample(n, np.random.default_rng(0))
    probe_cfg = OmegaConf.create({"share_passes": share, "share_splits": 2})
    proxies = {"b": {"lswag": {}}, "c": {p: {} for p in SUITE}, "d": {p: {} for p in SUITE},
               "g": {p: {} for p in GRID}}.get(mode)
    times = []
    for _ in range(repeats):
        for arch in archs:
            torch.manual_seed(0)
            model = space.build(arch, num_classes=task.num_classes)
            t0 = time.perf_counter()
            if mode == "a":
                model.zero_grad()
                task.loss(model(x), y).backward()
            else:
                probe_and_score(model, x, y, proxies, probe_cfg, "bench", fused=(mode != "d"), loss_fn=task.loss)
            times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


MEMORY = ["lswag", "zico", "swap", "nwot", "meco", "aznas_expressivity", "aznas_trainability", "synflow", "jacov",
          "tenas_ntk", "grasp", "snip", "params", "flops"]
"""Proxies whose peak memory ``--memory`` measures, each alone in its own process (the GPU check's list)."""
MEMORY_NETS = {"autoformer_tiny": 32, "vit_b": 8}
"""Networks of ``--memory`` and their batch: an AutoFormer-T subnet at the space's batch, ViT-B/16 (timm, random
init) at 8 images, what this 23 GB box holds for every proxy (TE-NAS's NTK rows alone: 8 x 86 M float64)."""


def memory_worker(net: str, proxy: str) -> None:
    """Peak RSS of one process that builds ``net`` and scores ``proxy`` alone on it (``bare``: one forward +
    backward; ``none``: the build only); prints JSON {maxrss_mb, seconds}."""
    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from zcnas.data import Task
    from zcnas.engine import probe_and_score
    from zcnas.spaces import AutoFormerSpace

    torch.manual_seed(0)
    if net == "vit_b":
        import timm

        model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=100)
    else:
        space = AutoFormerSpace(variant="tiny", img_size=224)
        model = space.build(space.sample(1, np.random.default_rng(0))[0], num_classes=100)
    x, y = Task(resolution=224, num_classes=100).batch(MEMORY_NETS[net], 0)
    t0 = time.perf_counter()
    if proxy == "bare":
        torch.nn.functional.cross_entropy(model(x), y).backward()
    elif proxy != "none":
        probe_and_score(model, x, y, {proxy: {}}, OmegaConf.create({"share_passes": True, "share_splits": 2}), "mem")
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "seconds": time.perf_counter() - t0}))


def memory(results: dict[str, Any]) -> None:
    """``--memory``: peak RSS per proxy (its own process each) on an AutoFormer-T subnet and on ViT-B/16; rows already
    in results.json are kept (a killed run resumes; delete ``memory/*`` rows to measure again)."""
    for net in MEMORY_NETS:
        for proxy in ["none", "bare", *MEMORY]:
            if f"memory/{net}/{proxy}" in results:
                continue
            out = subprocess.run([sys.executable, __file__, "--memory-worker", net, proxy], capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()[-1]
            results[f"memory/{net}/{proxy}"] = {**json.loads(out), "batch": MEMORY_NETS[net]}
            print(net, proxy, results[f"memory/{net}/{proxy}"], flush=True)
            OUT.write_text(json.dumps(results, indent=2) + "\n")  # each row kept as it is measured


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--nb201", type=int, default=20)
    ap.add_argument("--autoformer", type=int, default=5)
    ap.add_argument("--nb101", type=int, default=5)
    ap.add_argument("--darts", type=int, default=5)
    ap.add_argument("--tnb101", type=int, default=2, help="archs of each TNB101 (space, task)")
    ap.add_argument("--only", default=None, help="comma-separated spaces to run (others keep their results.json entries)")
    ap.add_argument("--worker", nargs=4, metavar=("MODE", "SPACE", "N", "REPEATS"))
    ap.add_argument("--memory", action="store_true", help="only the peak RSS per proxy (AutoFormer-T, ViT-B/16)")
    ap.add_argument("--memory-worker", nargs=2, metavar=("NET", "PROXY"))
    args = ap.parse_args()
    if args.memory_worker:
        memory_worker(*args.memory_worker)
        return
    if args.memory:
        memory(json.loads(OUT.read_text()) if OUT.is_file() else {})
        return
    if args.worker:
        mode, space, n, rep = args.worker
        worker(mode, space, int(n), int(rep))
        return
    sizes = {"nb201": args.nb201, "autoformer": args.autoformer, "nb101": args.nb101, "darts": args.darts,
             "tnb101_micro_autoencoder": args.tnb101, "tnb101_macro_jigsaw": args.tnb101}
    run = [s for s in sizes if args.only is None or s in args.only.split(",")]
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for space in run:
        for mode in MODES[space]:
            out = subprocess.run([sys.executable, __file__, "--worker", mode, space, str(sizes[space]), str(args.repeats)],
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            results[f"{space}/{mode}"] = {"median_s": statistics.median(r["times"]), "maxrss_mb": r["maxrss_mb"],
                                          "n": len(r["times"])}
            print(space, mode, results[f"{space}/{mode}"], flush=True)
        m = {k: results[f"{space}/{k}"] for k in MODES[space]}
        ratios = {"b_over_a": m["b"]["median_s"] / m["a"]["median_s"],
                  "rss_b_over_a": m["b"]["maxrss_mb"] / m["a"]["maxrss_mb"]}
        if "d" in m:
            ratios["d_over_c"] = m["d"]["median_s"] / m["c"]["median_s"]
        if space in GRID_ARCHS:  # the grid: every labelled arch of the column, 3 seeds, the GRID set fused
            ratios["grid_cpu_hours_1_thread"] = m["g"]["median_s"] * GRID_ARCHS[space] * 3 / 3600
        results[f"{space}/ratios"] = ratios
        print(space, ratios, flush=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")

if __name__ == "__main__":
    main()
