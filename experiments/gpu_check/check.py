"""The one-call GPU check (issues 25 and 30): what a lent GPU must measure in a few minutes, written and tested
on CPU first (``--dry``: the same steps at tiny sizes on CPU, run by CI).

Steps, each timed and written to one JSON (``--out``), then printed as one table:

1. ``throughput``: archs/s of NB201 (L-SWAG alone, and the 14 grid proxies fused) and AutoFormer-T subnets
   (L-SWAG) at ``engine.in_flight`` = 1, 4, 8, batch 64, through ``zcnas.run``'s own engine (streams joined,
   numeric policy applied), and whether the scores are identical across ``in_flight`` (they must be).
2. ``numeric``: nwot, swap, plain, grasp, zico, lswag on 8 NB201 archs on CPU, GPU-IEEE (``probe.tf32=false``) and
   GPU-TF32: the largest relative difference per proxy against CPU, and Spearman ρ of each GPU policy vs CPU.
3. ``memory``: peak GPU memory (``torch.cuda.max_memory_allocated``) of each proxy alone on an AutoFormer-T subnet.
4. ``syncs``: host syncs per arch per proxy (``zcnas.engine.SyncCounter``) on one NB201 cell and one AutoFormer-T
   subnet: each proxy should read its per-layer values back in one transfer.
5. ``oom``: a forced out-of-memory (a proxy that allocates past the card) gives NaN at the full batch, and a
   flagged smaller batch with ``engine.oom_reduce``; nothing else in flight changes.

Sizes (GPU, H100-class, estimated from CPU ratios; ≤ 8 min in all): NB201 1,000 cells x 3 in_flight values for
L-SWAG (~1-2 ms/cell forward+backward on a GPU: ~1 min) and 300 cells for the 14 fused (~2 min), AutoFormer-T 50
subnets x 3 (~1 min), the rest seconds. ``--dry``: 4 NB201 cells (C=4, N=1), 2 AutoFormer-T subnets at 32 px,
batch 8, CPU only (the GPU columns say ``cpu`` and the numeric step compares CPU with itself).

Run:  bash experiments/gpu_check/run.sh            # on a GPU machine: make test-gpu, then this script
      bash experiments/gpu_check/run.sh --dry      # CPU, tiny sizes (CI)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from scipy import stats

from zcnas.data import Task
from zcnas.engine import (
    EXCLUSIVE,
    OOM_BATCH,
    SyncCounter,
    in_order,
    numeric_policy,
    own_stream,
    probe_and_score,
)
from zcnas.probe import arch_seed, seeded
from zcnas.proxies import _registry, check_params
from zcnas.spaces import AutoFormerSpace, NB201Space

GRID14 = ["lswag", "lswag_lambda", "zico", "swap", "reg_swap", "nwot", "meco", "aznas_expressivity",
          "aznas_trainability", "aznas_progressivity", "synflow", "jacov", "params", "flops"]
NUMERIC = ["nwot", "swap", "plain", "grasp", "zico", "lswag"]
MEMORY = ["lswag", "zico", "swap", "nwot", "meco", "aznas_expressivity", "aznas_trainability", "synflow", "jacov",
          "tenas_ntk", "grasp", "snip", "params", "flops"]
PROBE = OmegaConf.create({"share_passes": False, "share_splits": 2})


def score_many(space: Any, archs: list[Any], x: torch.Tensor, y: torch.Tensor, names: list[str], device: torch.device,
               in_flight: int, num_classes: int, **kw: Any) -> tuple[list[dict[str, float]], float]:
    """Scores of ``archs`` as zcnas.run makes them (seeded builds, own streams, in_order) and the seconds taken."""
    proxies = {n: check_params(n, {}) for n in names}

    def one(arch: Any) -> dict[str, float]:
        key = space.encode(arch)
        with seeded(arch_seed(0, key)):
            model = space.build(arch, num_classes=num_classes).to(device)
        with own_stream(device):
            return probe_and_score(model, x, y, proxies, PROBE, key, **kw)

    t0 = time.perf_counter()
    out = list(in_order(one, archs, in_flight))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - t0


def same(a: list[dict[str, float]], b: list[dict[str, float]]) -> bool:
    return all(all((u[k] == v[k]) or (math.isnan(u[k]) and math.isnan(v[k])) for k in u) for u, v in zip(a, b, strict=True))


def throughput(dev: torch.device, sizes: dict[str, int], batch: int, res: int) -> list[dict[str, Any]]:
    rows = []
    x, y = Task().batch(batch, 0)
    x, y = x.to(dev), y.to(dev)
    nb = NB201Space(**sizes["nb201_space"])
    for names, n in ((["lswag"], sizes["nb201"]), (GRID14, sizes["nb201_fused"])):
        archs = nb.sample(n, np.random.default_rng(0))
        ref = None
        for k in (1, 4, 8):
            scores, secs = score_many(nb, archs, x, y, names, dev, k, 10)
            ref = ref or scores
            rows.append({"space": "nb201", "proxies": "lswag" if len(names) == 1 else "14 fused", "in_flight": k,
                         "archs": n, "archs_per_s": n / secs, "identical_to_in_flight_1": same(ref, scores)})
    af = AutoFormerSpace(img_size=res)
    xa, ya = Task(resolution=res).batch(batch, 0) if res != 32 else (x.cpu(), y.cpu())
    xa, ya = xa.to(dev), ya.to(dev)
    archs = af.sample(sizes["autoformer"], np.random.default_rng(0))
    ref = None
    for k in (1, 4, 8):
        scores, secs = score_many(af, archs, xa, ya, ["lswag"], dev, k, 100)
        ref = ref or scores
        rows.append({"space": "autoformer_tiny", "proxies": "lswag", "in_flight": k, "archs": len(archs),
                     "archs_per_s": len(archs) / secs, "identical_to_in_flight_1": same(ref, scores)})
    return rows


def numeric(dev: torch.device, sizes: dict[str, int], batch: int) -> list[dict[str, Any]]:
    x, y = Task().batch(batch, 0)
    nb = NB201Space(**sizes["nb201_space"])
    archs = nb.sample(sizes["numeric"], np.random.default_rng(1))
    cpu, _ = score_many(nb, archs, x, y, NUMERIC, torch.device("cpu"), 1, 10)
    rows = []
    for tf32 in (False, True):
        numeric_policy(dev, tf32)
        got, _ = score_many(nb, archs, x.to(dev), y.to(dev), NUMERIC, dev, 1, 10)
        for name in NUMERIC:
            a = np.array([r[name] for r in cpu])
            b = np.array([r[name] for r in got])
            rel = np.abs(b - a) / np.maximum(np.abs(a), 1e-12)
            rows.append({"policy": f"{dev.type}-{'tf32' if tf32 else 'ieee'}", "proxy": name,
                         "max_rel_diff": float(np.nanmax(rel)) if np.isfinite(rel).any() else math.nan,
                         "spearman_vs_cpu": float(stats.spearmanr(a, b).statistic) if np.ptp(a) > 0 else math.nan})
    numeric_policy(dev, False)
    return rows


def memory(dev: torch.device, batch: int, res: int, names: list[str]) -> list[dict[str, Any]]:
    af = AutoFormerSpace(img_size=res)
    arch = af.sample(1, np.random.default_rng(2))[0]
    x, y = Task(resolution=res).batch(batch, 0) if res != 32 else Task().batch(batch, 0)
    rows = []
    for name in names:
        with seeded(0):
            model = af.build(arch, num_classes=100).to(dev)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
        t0 = time.perf_counter()
        value = probe_and_score(model, x.to(dev), y.to(dev), {name: check_params(name, {})}, PROBE, "m")[name]
        peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else math.nan
        rows.append({"proxy": name, "peak_mib": peak, "seconds": time.perf_counter() - t0, "finite": math.isfinite(value)})
        del model
    return rows


def syncs(dev: torch.device, sizes: dict[str, int], batch: int, res: int, names: list[str]) -> list[dict[str, Any]]:
    """Host syncs per arch and proxy (:class:`zcnas.engine.SyncCounter`: calls that make the host wait for the
    device) on one NB201 cell and one AutoFormer-T subnet, each proxy on a fresh probe."""
    rows = []
    for label, space, task in (("nb201", NB201Space(**sizes["nb201_space"]), Task()),
                               ("autoformer_tiny", AutoFormerSpace(img_size=res), Task(resolution=res))):
        arch = space.sample(1, np.random.default_rng(3))[0]
        x, y = task.batch(batch, 0)
        for name in names:
            with seeded(0):
                model = space.build(arch, num_classes=10).to(dev)
            with SyncCounter() as c:
                probe_and_score(model, x.to(dev), y.to(dev), {name: check_params(name, {})}, PROBE, "s")
            rows.append({"space": label, "proxy": name, "syncs": c.count,
                         "calls": " ".join(f"{k}:{v}" for k, v in sorted(c.calls.items()))})
    return rows


def oom(dev: torch.device, batch: int) -> dict[str, Any]:
    """A proxy that runs out of memory above half the batch: NaN by default, flagged half batch on request."""
    def hungry(probe: Any, **_: Any) -> float:
        if len(probe.inputs) > batch // 2:
            raise torch.OutOfMemoryError("forced out of memory (gpu_check)")
        return float(len(probe.inputs))

    _registry._REGISTRY["_gpu_check_hungry"] = _registry.ProxySpec("_gpu_check_hungry", hungry, ())
    try:
        x, y = Task().batch(batch, 0)
        nb = NB201Space(C=4, N=1)
        model = nb.build(nb.sample(1, np.random.default_rng(0))[0], 10).to(dev)
        plain = probe_and_score(model, x.to(dev), y.to(dev), {"_gpu_check_hungry": {}}, PROBE, "o")
        reduced = probe_and_score(model, x.to(dev), y.to(dev), {"_gpu_check_hungry": {}}, PROBE, "o", oom_reduce=True)
    finally:
        del _registry._REGISTRY["_gpu_check_hungry"]
    return {"default_is_nan": math.isnan(plain["_gpu_check_hungry"]), "reduced_batch": reduced.get(OOM_BATCH),
            "reduced_score": reduced["_gpu_check_hungry"], "lock_free_after": not EXCLUSIVE._alone}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every step; write the JSON; print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry", action="store_true", help="tiny sizes on CPU (CI)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "gpu_check.json")
    args = p.parse_args(argv)
    if args.dry:
        dev, batch, res = torch.device("cpu"), 8, 32
        sizes = {"nb201": 4, "nb201_fused": 2, "autoformer": 2, "numeric": 4, "nb201_space": {"C": 4, "N": 1}}
    else:
        if not torch.cuda.is_available():
            sys.exit("gpu_check: error: no CUDA device here; run with --dry for the CPU rehearsal")
        dev, batch, res = torch.device("cuda"), 64, 224
        sizes = {"nb201": 1000, "nb201_fused": 300, "autoformer": 50, "numeric": 8, "nb201_space": {}}
    out: dict[str, Any] = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu (dry run)",
                           "torch": torch.__version__, "dry": args.dry, "seconds": {}}
    for step, fn in (("throughput", lambda: throughput(dev, sizes, batch, res)),
                     ("numeric", lambda: numeric(dev, sizes, batch)),
                     ("memory", lambda: memory(dev, batch, res, MEMORY[:3] if args.dry else MEMORY)),
                     ("syncs", lambda: syncs(dev, sizes, batch, res, MEMORY[:4] if args.dry else MEMORY)),
                     ("oom", lambda: oom(dev, batch))):
        t0 = time.perf_counter()
        out[step] = fn()
        out["seconds"][step] = time.perf_counter() - t0
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")  # each step kept as it finishes
    for step in ("throughput", "numeric", "memory", "syncs"):
        rows = out[step]
        print(f"\n{step} ({out['seconds'][step]:.0f} s)")
        print(" | ".join(rows[0]))
        for r in rows:
            print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()))
    print(f"\noom ({out['seconds']['oom']:.1f} s): {out['oom']}\n-> {args.out}")
    return out


if __name__ == "__main__":
    main()
