"""What each command of the README's "Running" block costs on this 2-core machine, measured.

Each command runs as written (same overrides, in a fresh directory: cold cache, its own MLflow store) or,
where the full job takes longer than a few minutes, at a smaller size (``n_archs``, a search's or a
calibration's count, one seed of a sweep); its full cost is then

    startup + (measured wall - startup) * full / small

with ``startup`` the wall time of a 1-arch run (imports, composing, the probe batch; measured first).
Every command's architectures cost about the same on average (uniform samples), so the scaling is
linear. Written to ``results/costs.csv`` (one row per README command, with the command measured)
and ``results/costs.md``, row by row as they finish; a rerun skips the rows already there.

    python experiments/readme_costs/costs.py [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "results"
PY = [sys.executable, "-m"]
DATA = str(ROOT / "tests" / "data")
HEAD = str(ROOT / "experiments" / "benchmark_grid" / "results" / "headline" / "nb201_c100")  # committed run dirs

# (the README's command after `python -m`, the command measured (None: as written), full / small count)
COMMANDS: list[tuple[str, str | None, float]] = [
    ("zcnas.run", "zcnas.run n_archs=20", 100 / 20),
    ("zcnas.run task=cifar100", "zcnas.run task=cifar100 n_archs=20", 100 / 20),
    ("zcnas.run proxy=lswag space=autoformer", "zcnas.run proxy=lswag space=autoformer n_archs=5", 100 / 5),
    ("zcnas.run proxy=lswag space=autoformer space.flavour=cream",
     "zcnas.run proxy=lswag space=autoformer space.flavour=cream n_archs=5", 100 / 5),
    ("zcnas.run space=pit benchmark=pit benchmark.path=tests/data/gt_pit_example.json proxy=[lswag,params] n_archs=8",
     f"zcnas.run space=pit benchmark=pit benchmark.path={DATA}/gt_pit_example.json proxy=[lswag,params] n_archs=8", 1),
    ("zcnas.run space=nb101 benchmark=nb101 proxy=[lswag,params] n_archs=100",
     "zcnas.run space=nb101 benchmark=nb101 proxy=[lswag,params] n_archs=20", 100 / 20),
    ("zcnas.run space=darts benchmark=nb301 proxy=[lswag,params] n_archs=100",
     "zcnas.run space=darts benchmark=nb301 proxy=[lswag,params] n_archs=20", 100 / 20),
    ("zcnas.run space=tnb101_micro benchmark=tnb101_micro benchmark.target=autoencoder proxy=lswag n_archs=50",
     "zcnas.run space=tnb101_micro benchmark=tnb101_micro benchmark.target=autoencoder proxy=lswag n_archs=10",
     50 / 10),
    ("zcnas.run space=tnb101_macro benchmark=tnb101_macro benchmark.target=jigsaw proxy=lswag n_archs=50",
     "zcnas.run space=tnb101_macro benchmark=tnb101_macro benchmark.target=jigsaw proxy=lswag n_archs=10",
     50 / 10),
    ("zcnas.run space=timm 'space.models=[vit_tiny_patch16_224,resnet18]'", None, 1),
    ("zcnas.run -m experiment=paper_autoformer", "zcnas.run experiment=paper_autoformer n_archs=4", 5 * 100 / 4),
    ("zcnas.run proxy=[lswag,nwot,params] n_archs=1000 combiner=libra",
     "zcnas.run proxy=[lswag,nwot,params] n_archs=50 combiner=libra", 1000 / 50),
    ("zcnas.run benchmark=suite_zero_nb201 benchmark.precomputed=all proxy=[lswag,zico] n_archs=725 combiner=libra",
     "zcnas.run benchmark=suite_zero_nb201 benchmark.precomputed=all proxy=[lswag,zico] n_archs=50 combiner=libra",
     725 / 50),
    # evolution: 50 + 19 x 50 evaluations at most (duplicates are scored once): measured on 2 generations
    ("zcnas.run search=evolution search.fitness=lswag proxy=[lswag,params]",
     "zcnas.run search=evolution search.fitness=lswag proxy=[lswag,params] search.generations=2", 1000 / 100),
    ("zcnas.run space=nb201 search=prune search.fitness=lswag proxy=[lswag,params]", None, 1),
    ("zcnas.export logs/runs/<date>/<time>", "zcnas.export {prune}", 1),
    ("zcnas.combine benchmark=suite_zero_nb301 combiner=libra combiner.protocol=in_sample", None, 1),
    ("zcnas.combine benchmark=runs 'benchmark.dirs=[logs/runs/a,logs/runs/b]' combiner=none "
     "combiner.from=fit/combiner.json",
     f"zcnas.combine benchmark=runs benchmark.dirs=[{HEAD}/seed0_chunk0of2,{HEAD}/seed0_chunk1of2] combiner=none "
     f"combiner.from={ROOT}/experiments/libra_transfer/results/combiners/nb201_c10_seed0.json", 1),
    ("zcnas.run -m seed=0,1,2 proxy=[lswag,nwot]", "zcnas.run proxy=[lswag,nwot] n_archs=20", 3 * 100 / 20),
    ("zcnas.summarize logs/multiruns/<date>/<time>", "zcnas.summarize {default} {cifar100}", 1),
    ("zcnas.calibrate space=nb201 task=cifar10 calibrate.sweep=true",
     "zcnas.calibrate space=nb201 task=cifar10 calibrate.sweep=true calibrate.n_archs=50", 1000 / 50),
    ("zcnas.build space=nb201 task=cifar10 recipe=nb201 recipe.epochs=3 n_archs=30",
     "zcnas.build space=nb201 task=cifar10 recipe=nb201 recipe.epochs=3 n_archs=1", 30),
    ("zcnas.run benchmark=file benchmark.path=built/nb201_cifar10_nb201.jsonl n_archs=30",
     "zcnas.run benchmark=file benchmark.path={build} n_archs=1", 30),
]
NAMES = {0: "default", 1: "cifar100", 14: "prune"}  # run dirs later commands read
FIELDS = ["readme", "measured", "scale", "wall_s", "full_s", "full", "rc"]


def human(seconds: float) -> str:
    """``45 s``, ``12 min``, ``1.6 h``."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def timed(cmd: str, cwd: Path, run_dir: Path) -> tuple[float, int, str]:
    """Wall seconds, exit code and the last stderr line of ``python -m <cmd>`` in ``cwd`` (its own: a cold
    score cache, its own MLflow store and config dir)."""
    args = [*PY, *shlex.split(cmd)]
    if cmd.startswith(("zcnas.run", "zcnas.calibrate", "zcnas.build")):
        args.append(f"hydra.run.dir={run_dir}")
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(ROOT), "ZCNAS_CONFIG_DIR": str(cwd / "config")}
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=6 * 3600)
    tail = (proc.stderr.strip().splitlines() or [""])[-1]
    return time.perf_counter() - t0, proc.returncode, tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="measure only the commands containing this text")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "costs.csv"
    done = {r["readme"]: r for r in csv.DictReader(table.open())} if table.is_file() else {}
    work = Path(tempfile.mkdtemp(prefix="zcnas_costs_"))
    try:
        startup, rc, _ = timed("zcnas.run n_archs=1 proxy=params tracking=none", work / "startup", work / "startup" / "run")
        print(f"startup (1-arch run): {startup:.1f} s", flush=True)
        dirs: dict[str, str] = {}
        for k, (readme, measured, scale) in enumerate(COMMANDS):
            cwd = work / f"c{k}"
            run_dir = cwd / "run"
            if k in NAMES:
                dirs[NAMES[k]] = str(run_dir)
            if "{build}" in (measured or ""):  # the file the zcnas.build row wrote (built/<space>_<task>_<recipe>.jsonl)
                built = [work / f"c{i}" / "built" for i, (r, _, _) in enumerate(COMMANDS) if r.startswith("zcnas.build")]
                dirs["build"] = str(next(iter(built[0].glob("*.jsonl")), work / "missing.jsonl"))
            cmd = (measured or readme).format(**dirs)
            if readme in done or (args.only and args.only not in readme):
                continue
            wall, rc, tail = timed(cmd, cwd, run_dir)
            full = startup + (wall - startup) * scale if scale != 1 else wall
            row = {"readme": readme, "measured": cmd.replace(str(work), "<tmp>").replace(str(ROOT) + "/", ""),
                   "scale": f"{scale:g}", "wall_s": f"{wall:.1f}", "full_s": f"{full:.0f}", "full": human(full),
                   "rc": str(rc)}
            print(f"{human(full):>8}  (rc {rc}, {wall:.0f} s measured)  python -m {readme}"
                  + (f"\n          {tail}" if rc else ""), flush=True)
            done[readme] = row
            with table.open("w", newline="") as f:  # row by row: an interrupted rerun keeps what was measured
                w = csv.DictWriter(f, FIELDS)
                w.writeheader()
                w.writerows(done[r] for r, _, _ in COMMANDS if r in done)
        lines = [f"# Cost of the README's commands on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})",
                 "", f"`python experiments/readme_costs/costs.py`; startup (a 1-arch run) {startup:.0f} s. Each command in a",
                 "fresh directory (cold cache); full = startup + (measured − startup) x scale. Measured on 2026-12-06 while",
                 "two `nice -n 10` jobs ran (the benchmark grid: a nice-0 process keeps ~90 % of each core). A row scaled",
                 "from one architecture is an upper bound (its first architecture carries one-off warm-ups).", "",
                 "| command | full job | measured as | scale |", "|---|---|---|---|"]
        lines += [f"| `python -m {r['readme']}` | {r['full']}{'' if r['rc'] == '0' else ' (failed: rc ' + r['rc'] + ')'} | "
                  f"`{r['measured']}`, {float(r['wall_s']):.0f} s | {r['scale']} |"
                  for r in (done[c] for c, _, _ in COMMANDS if c in done)]
        (args.out / "costs.md").write_text("\n".join(lines) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
