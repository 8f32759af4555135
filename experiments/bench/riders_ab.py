"""MeCo's and AZ-NAS's artifacts riding on the shared full-batch pass, on vs off (#25 part 1), in one process:
per arch of the bench's sample (its task, batch, probe settings; one torch thread), Fig. 3's 14 fused scored with
riders on and off in alternating order, ``--reps`` times each; medians per arch and the median ratio.

Run:  python experiments/bench/riders_ab.py nb201_c10 macro_jig nb301 --n 10,2,2 --reps 3 --out experiments/bench/riders_ab.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import bench
import torch

from zcnas.cli import instantiate
from zcnas.engine import probe_and_score
from zcnas.probe import Probe, arch_seed, seeded


def measure(space: str, n: int, reps: int) -> dict:
    """Median seconds per arch with riders on and off, alternating (riders off = no rider handed to the plan)."""
    cfg = bench.compose(space)
    sp, task = instantiate(cfg.space), instantiate(cfg.task)
    x, y, _ = task.probe_batch(cfg.batch_size, cfg.probe.batch_seed)
    keys, suite, _ = bench.suite_zero(space, n)
    proxies = {p: {} for p in bench.mode_proxies("f", suite)}
    plan = Probe.plan
    rows = []
    for key in keys:
        with seeded(arch_seed(cfg.seed, key)):
            model = sp.build(sp.decode(key), num_classes=task.num_classes)
        times: dict[str, list[float]] = {"on": [], "off": []}
        for r in range(reps):
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                Probe.plan = plan if mode == "on" else (lambda self, needs, riders=None: plan(self, needs, None))
                t0 = time.perf_counter()
                probe_and_score(model, x, y, proxies, cfg.probe, key, loss_fn=task.loss)
                times[mode].append(time.perf_counter() - t0)
        Probe.plan = plan
        rows.append({"arch": key, **{m: statistics.median(t) for m, t in times.items()}})
    on, off = [r["on"] for r in rows], [r["off"] for r in rows]
    return {"space": space, "n_archs": len(rows), "reps": reps, "median_on_s": statistics.median(on),
            "median_off_s": statistics.median(off),
            "median_ratio_on_over_off": statistics.median([a / b for a, b in zip(on, off, strict=True)]), "archs": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spaces", nargs="+")
    ap.add_argument("--n", default="", help="archs per space, comma-separated in the order of the spaces")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("riders_ab.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    sizes = [int(v) for v in args.n.split(",")] if args.n else [bench.N_DEFAULT[s] for s in args.spaces]
    out = [measure(s, n, args.reps) for s, n in zip(args.spaces, sizes, strict=True)]
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    for r in out:
        print(f"{r['space']}: riders on {r['median_on_s']:.2f} s, off {r['median_off_s']:.2f} s, "
              f"median ratio {r['median_ratio_on_over_off']:.3f} ({r['n_archs']} archs x {r['reps']})")


if __name__ == "__main__":
    main()
