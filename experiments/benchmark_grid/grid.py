"""Launch the L-SWAG paper's CNN benchmark grid (Fig. 3 / Fig. 4 / Table 3) as sharded Hydra multiruns.

Reference: Casarin, Escalera, Lanz, "L-SWAG", CVPR 2025 (arXiv 2505.07300), Fig. 3 (proxy x benchmark
Spearman ρ), Fig. 4 (mean ρ) and Table 3 (L-SWAG's components). One multirun per column (the space, task
and ground truth move together, so they cannot be one Cartesian sweep) over seeds x shards:

    python -m zcnas.run -m <column overrides> proxy=[...] n_archs=N seed=0,1,2 \
        shard.count=K shard.index=0,...,K-1 cache.path=<out>/zcnas_cache.db \
        hydra.sweep.dir=<out>/main/<column> [launcher=local|slurm]

and, for Table 3's full-window rows, a second one per column with ``proxy=[lswag,lswag_lambda]`` and
``lo=0 hi=10`` (``<out>/ablation/<column>``). Every score goes through the shared score cache, so a
killed or requeued grid rerun with the same command recomputes nothing it already scored; each multirun
merges its shards into ``<sweep>/merged/<seed group>/`` at its end. Then ``analyse.py <out>``.

Usage:
    python experiments/benchmark_grid/grid.py --out logs/experiments/benchmark_grid               # all, local
    python experiments/benchmark_grid/grid.py --launcher slurm --shards 8 --n 1000 hydra.launcher.partition=cpu
    python experiments/benchmark_grid/grid.py --columns nb201_c10,nb101 --n 20 --seeds 0 --dry-run
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

# column -> (Hydra overrides, labelled archs in its ground truth: n_archs is capped there)
COLUMNS: dict[str, tuple[list[str], int]] = {
    "nb201_c10": (["space=nb201", "task=cifar10"], 15625),
    "nb201_c100": (["space=nb201", "task=cifar100"], 15625),
    "nb201_in16": (["space=nb201", "task=imagenet16_120"], 15625),
    "nb101": (["space=nb101", "benchmark.target=cifar10", "benchmark.precomputed=all"], 500),  # Suite-Zero's 500 NB101 cells
    "nb301": (["space=darts", "benchmark.target=cifar10", "benchmark.precomputed=all"], 725),
    "micro_ae": (["space=tnb101_micro", "benchmark.target=autoencoder", "benchmark.precomputed=all"], 711),
    "micro_jig": (["space=tnb101_micro", "benchmark.target=jigsaw", "benchmark.precomputed=all"], 711),
    "macro_ae": (["space=tnb101_macro", "benchmark.target=autoencoder", "benchmark.precomputed=all"], 725),
    "macro_jig": (["space=tnb101_macro", "benchmark.target=jigsaw", "benchmark.precomputed=all"], 725),
}
"""The paper's CNN columns zcnas can compute (TNB101 object/scene/room/normal/segment need Taskonomy labels)."""

PROXIES = ["lswag", "lswag_lambda", "zico", "swap", "reg_swap", "nwot", "meco", "aznas_expressivity",
           "aznas_trainability", "aznas_progressivity", "synflow", "jacov", "params", "flops"]
"""Fig. 3's proxies computed per arch in one fused probe (analyse.py rank-combines the three AZ-NAS terms;
lswag_lambda is Table 3's windowed no-Ψ row)."""

ABLATION = ["lswag", "lswag_lambda"]
"""Table 3's full-window rows: L-SWAG (no µ + Ψ) and Λ alone (no µ) over the whole network."""
FULL_WINDOW = ["proxy.lswag.lo=0", "proxy.lswag.hi=10", "proxy.lswag_lambda.lo=0", "proxy.lswag_lambda.hi=10"]


def commands(columns: list[str], *, n: int, seeds: list[int], shards: int, launcher: str, out: Path,
             proxies: list[str], ablation: bool, python: str, extra: list[str]) -> list[list[str]]:
    """The ``python -m zcnas.run -m`` command lines of the grid, one per (kind, column)."""
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; valid: {', '.join(COLUMNS)}")
    if n < 3 or shards < 1 or not seeds:
        raise ValueError(f"--n {n} --shards {shards} --seeds {seeds}: need n >= 3, shards >= 1 and a seed")
    runs = [("main", proxies, [])] + ([("ablation", ABLATION, FULL_WINDOW)] if ablation else [])
    cmds = []
    for kind, names, window in runs:
        for col in columns:
            overrides, size = COLUMNS[col]
            if kind == "ablation":  # Suite-Zero's precomputed scores are read once, by the main run
                overrides = [o for o in overrides if not o.startswith("benchmark.precomputed")]
            cmds.append([python, "-m", "zcnas.run", "-m", *overrides, f"proxy=[{','.join(names)}]", *window,
                         f"n_archs={min(n, size)}", f"seed={','.join(map(str, seeds))}",
                         f"shard.count={shards}", f"shard.index={','.join(map(str, range(shards)))}",
                         f"cache.path={out / 'zcnas_cache.db'}", f"hydra.sweep.dir={out / kind / col}",
                         "hydra.sweep.subdir=seed${seed}_shard${shard.index}", "log_every=50",
                         *([f"launcher={launcher}"] if launcher != "none" else []), *extra])
    return cmds


def main(argv: list[str] | None = None) -> None:
    """``python experiments/benchmark_grid/grid.py [options] [hydra overrides...]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--columns", default=",".join(COLUMNS), help=f"comma list of {', '.join(COLUMNS)}")
    p.add_argument("--n", type=int, default=500, help="archs per column and seed (capped at the benchmark's size)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--shards", type=int, default=1, help="shards per seed (jobs per column = seeds x shards)")
    p.add_argument("--launcher", default="none", choices=["none", "local", "slurm"],
                   help="none: jobs one after another in this process; local/slurm: submitit (conf/launcher/)")
    p.add_argument("--out", type=Path, default=Path("logs/experiments/benchmark_grid"))
    p.add_argument("--proxies", default=",".join(PROXIES))
    p.add_argument("--no-ablation", action="store_true", help="skip Table 3's full-window runs")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    args, extra = p.parse_known_args(argv)
    try:
        cmds = commands(args.columns.split(","), n=args.n, seeds=[int(s) for s in args.seeds.split(",")],
                        shards=args.shards, launcher=args.launcher, out=args.out, proxies=args.proxies.split(","),
                        ablation=not args.no_ablation, python=args.python, extra=extra)
    except ValueError as err:
        sys.exit(f"grid.py: error: {err}")
    for cmd in cmds:
        print(shlex.join(cmd), flush=True)
        if not args.dry_run:
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
