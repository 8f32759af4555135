"""Load on the score cache (issue 18 part 13): 8 concurrent shard processes score 1,000 NB201 cells
(proxy=params, real networks built per cell) into one cache: one shared SQLite file (WAL),
``cache.per_shard=true`` (own files, folded in at the end) or a PostgreSQL server (``cache.url``,
upserts; ``--pg-url``, default the local socket's ``postgresql:///zcnas_test``, a fresh schema per run). Reports wall time, throughput, the time
spent inside the cache's ``get``/``put`` (where SQLite's lock waits happen: its busy handler waits
inside the call) and checks that every cell was scored exactly once.

Run: python experiments/cache_load/load.py [--n 1000] [--procs 8] [--modes shared per_shard postgres]
         [--out experiments/cache_load/results.json]  (rows of other modes already in --out are kept)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def worker(k: int, procs: int, n: int, mode: str, root: str, url: str, q: Any) -> None:
    import torch
    from hydra import compose, initialize_config_dir

    import zcnas.cache as cache
    from zcnas.run import score_archs

    torch.set_num_threads(1)
    waits: dict[str, list[float]] = {"get": [], "put": []}
    for name in ("get", "put"):
        for cls in (cache.ScoreCache, cache.ShardCache, cache.PgCache):
            orig = cls.__dict__.get(name)
            if orig is None:
                continue

            def timed(self: Any, *a: Any, _orig: Any = orig, _name: str = name) -> Any:
                t0 = time.perf_counter()
                try:
                    return _orig(self, *a)
                finally:
                    waits[_name].append(time.perf_counter() - t0)

            setattr(cls, name, timed)
    overrides = [f"n_archs={n}", "proxy=params", "batch_size=8", "tracking=none", "log_every=1000", "threads=1",
                 "space.C=4", "space.N=1",  # NB201 cells at the thinnest width: the cache is under test, not the CPU
                 f"shard.count={procs}", f"shard.index={k}", f"cache.path={root}/cache.db",
                 f"cache.per_shard={'true' if mode == 'per_shard' else 'false'}"]
    if mode == "postgres":
        overrides.append(f"cache.url='{url}'")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    t0 = time.perf_counter()
    out = score_archs(cfg, Path(root) / f"shard{k}")
    q.put({"k": k, "seconds": time.perf_counter() - t0, "n_computed": out["summary"]["n_computed"],
           "get_s": waits["get"], "put_s": waits["put"]})


def pg_schema(server: str, sql: str) -> Any:
    """Run ``sql`` on ``server`` (autocommit) and return its first row, if any."""
    import sqlalchemy as sa

    engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        res = conn.execute(sa.text(sql))
        row = res.one() if res.returns_rows else None
    engine.dispose()
    return row


def run(mode: str, n: int, procs: int, server: str) -> dict[str, Any]:
    from zcnas.cache import merge_shard_caches

    schema = f"load_{uuid.uuid4().hex[:10]}"
    url = f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
    if mode == "postgres":
        pg_schema(server, f"CREATE SCHEMA {schema}")

    with tempfile.TemporaryDirectory(prefix=f"zcnas-load-{mode}-") as root:
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        t0 = time.perf_counter()
        ps = [ctx.Process(target=worker, args=(k, procs, n, mode, root, url, q)) for k in range(procs)]
        for p in ps:
            p.start()
        res = [q.get() for _ in ps]
        for p in ps:
            p.join()
        wall = time.perf_counter() - t0
        fold = 0.0
        if mode == "per_shard":
            t1 = time.perf_counter()
            merge_shard_caches(f"{root}/cache.db", procs)
            fold = time.perf_counter() - t1
        if mode == "postgres":
            rows, distinct = pg_schema(server, f"SELECT COUNT(*), COUNT(DISTINCT arch) FROM {schema}.scores")
            pg_schema(server, f"DROP SCHEMA {schema} CASCADE")
        else:
            db = sqlite3.connect(f"{root}/cache.db")
            rows, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT arch) FROM scores").fetchone()
            db.close()
        archs = [line.split(",")[0] for k in range(procs)
                 for line in (Path(root) / f"shard{k}" / "scores.csv").read_text().splitlines()[1:]]
    puts = np.concatenate([r["put_s"] for r in res]) * 1e3
    gets = np.concatenate([r["get_s"] for r in res]) * 1e3
    return {"mode": mode, "procs": procs, "n": n, "wall_s": round(wall, 1), "fold_s": round(fold, 2),
            "scoring_s_per_proc": [round(r["seconds"], 1) for r in sorted(res, key=lambda r: r["k"])],
            "cells_per_s_scoring": round(n / max(r["seconds"] for r in res), 1),
            "put_ms": {"mean": round(float(puts.mean()), 2), "p99": round(float(np.percentile(puts, 99)), 2),
                       "max": round(float(puts.max()), 1), "total_s": round(float(puts.sum()) / 1e3, 2)},
            "get_ms": {"mean": round(float(gets.mean()), 2), "p99": round(float(np.percentile(gets, 99)), 2),
                       "max": round(float(gets.max()), 1)},
            "cache_rows": rows, "cache_distinct_archs": distinct, "csv_rows": len(archs),
            "csv_distinct_archs": len(set(archs)), "n_computed": sum(r["n_computed"] for r in res)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--modes", nargs="+", default=["shared", "per_shard", "postgres"],
                    choices=["shared", "per_shard", "postgres"])
    ap.add_argument("--pg-url", default="postgresql:///zcnas_test")
    args = ap.parse_args()
    out = [run(mode, args.n, args.procs, args.pg_url) for mode in args.modes]
    for r in out:
        print(json.dumps(r))
        assert r["cache_rows"] == r["cache_distinct_archs"] == r["csv_rows"] == r["csv_distinct_archs"] == args.n
        assert r["n_computed"] == args.n
    if args.out:
        kept = [r for r in json.loads(args.out.read_text()) if r["mode"] not in args.modes] if args.out.is_file() else []
        args.out.write_text(json.dumps(kept + out, indent=2) + "\n")


if __name__ == "__main__":
    main()
