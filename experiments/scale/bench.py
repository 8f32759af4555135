"""experiments/scale: scores per second for 1, 2 and 4 local shards (submitit_local), merge time,
and the cost of rerunning a finished config (everything read from the cache).

Usage: python experiments/scale/bench.py [--n-archs 200] [--out experiments/scale/results.csv]
Each configuration runs in a fresh directory (fresh cache); wall times include start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, "TQDM_DISABLE": "1"}, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-archs", type=int, default=200)
    ap.add_argument("--proxies", default="[lswag,nwot,params]")
    ap.add_argument("--out", type=Path, default=ROOT / "experiments/scale/results.csv")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    base = [sys.executable, "-m", "zcnas.run", "-m", f"n_archs={args.n_archs}", f"proxy={args.proxies}",
            "tracking=none", "log_every=1000"]
    rows = []
    for shards in (1, 2, 4):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            threads = max(1, cores // shards)
            cmd = [*base, "launcher=local", f"hydra.launcher.cpus_per_task={threads}",
                   f"shard.count={shards}", f"shard.index={','.join(map(str, range(shards)))}",
                   "hydra.sweep.dir=sweep"]
            wall = timed(cmd, work)
            merged = work / "sweep" / "merged" if shards > 1 else work / "sweep" / "0"
            merge_s = timed([sys.executable, "-m", "zcnas.merge", "sweep"], work) if shards > 1 else 0.0
            rerun = timed(cmd, work)  # same config again: every score from the cache
            summary = json.loads((merged / "run_summary.json").read_text())
            rho = {r["proxy"]: r["spearman"] for r in json.loads((merged / "correlations.json").read_text())}
            rows.append({"shards": shards, "threads_per_shard": threads, "n_archs": args.n_archs,
                         "wall_s": round(wall, 1), "archs_per_s": round(args.n_archs / wall, 3),
                         "merge_cmd_s": round(merge_s, 1), "rerun_cached_s": round(rerun, 1),
                         "n_computed": summary["n_computed"], "spearman_lswag": round(rho.get("lswag", float("nan")), 4)})
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    df["speedup"] = (df.archs_per_s / df.archs_per_s.iloc[0]).round(2)
    df.to_csv(args.out, index=False)
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
