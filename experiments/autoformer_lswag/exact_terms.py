"""Per-subnet L-SWAG decile terms and the single-pass proxies on the 100 labelled AutoFormer-T
subnets, for one seed and flavour, appended row by row to a CSV (a rerun skips rows already there).

One set of probe passes per subnet (2 sub-batches of batch/2, activations shared: exact for
LayerNorm ViTs) serves: per-decile Λ terms and cumulative Ψ (``zcnas.deciles.decile_profile``,
from which L-SWAG for *any* window [lo, hi] is ``sum(lam[lo..hi]) * psi[hi]``), and the registry's
lswag (full window, a cross-check), zico, swap, nwot, reg_swap, params, flops. Seeding is
``python -m zcnas.run``'s: the arch sample, the probe batch and each subnet's init depend on the
seed exactly as there, so the numbers equal a ``zcnas.run space=autoformer seed=<s>`` run's.

Usage: python experiments/autoformer_lswag/exact_terms.py --seed 0 --flavour autoprox \
           --out experiments/autoformer_lswag/results/autoprox_seed0_terms.csv
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from zcnas.data import Task, load_autoformer
from zcnas.deciles import decile_profile
from zcnas.probe import Probe, arch_seed, seeded
from zcnas.proxies import score
from zcnas.spaces import AutoFormerSpace

PROXIES = {"lswag": {"lo": 0, "hi": 10}, "zico": {}, "swap": {}, "nwot": {}, "reg_swap": {}, "params": {}, "flops": {}}
BINS = 10


def main() -> None:
    """Score the subnets not yet in ``--out`` and append one row each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--flavour", default="autoprox")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    space = AutoFormerSpace("tiny", flavour=args.flavour)
    task = Task(name="cifar100", num_classes=100, resolution=224)
    bench = load_autoformer()
    keys = bench.sample(args.n, np.random.default_rng(args.seed))  # zcnas.run's sample for this seed
    x, y = task.batch(args.batch, args.seed)
    done = set(pd.read_csv(args.out)["arch"]) if args.out.is_file() else set()
    cols = ["arch", *PROXIES, *(f"lam{d}" for d in range(BINS + 1)), *(f"psi{d}" for d in range(BINS + 1)),
            *bench.targets, "seconds"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, cols)
        if not done:
            writer.writeheader()
        for i, key in enumerate(keys, 1):
            if key in done:
                continue
            t0 = time.perf_counter()
            with seeded(arch_seed(args.seed, key)):
                model = space.build(space.decode(key), num_classes=task.num_classes)
            probe = Probe(model, x, y, share_passes=True, share_splits=2)
            rec = decile_profile(probe, n_splits=2, accumulate=False, bins=BINS)
            row = {"arch": key, **score(probe, PROXIES),
                   **{f"lam{d}": v for d, v in enumerate(rec["lam"])}, **{f"psi{d}": v for d, v in enumerate(rec["psi"])},
                   **bench.lookup([key]).iloc[0].to_dict(), "seconds": time.perf_counter() - t0}
            writer.writerow(row)
            fh.flush()
            print(f"{i}/{len(keys)} {row['seconds']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
