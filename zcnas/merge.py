"""``python -m zcnas.merge <sweep_dir>``: join the shards of sharded runs into one result.

Shard k of n scored ``sample[k::n]``; merging interleaves the shards' ``scores.csv`` back into the
sample's order and recomputes correlations (and the combiner) with the same code as ``zcnas.run``,
so ``<sweep_dir>/merged/<group>/`` holds exactly what the unsharded run writes. Runs of a sweep
are grouped by their resolved config without ``shard.index`` (e.g. one group per seed). A
multirun merges itself at its end (:class:`zcnas.callbacks.SweepCallback`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.cache import digest
from zcnas.results import format_table, write_outputs

log = logging.getLogger("zcnas.merge")


def find_shards(sweep_dir: Path) -> dict[str, list[tuple[dict[str, Any], Path]]]:
    """Sharded run directories under ``sweep_dir``, grouped by config-without-shard-index."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    groups: dict[str, list[tuple[dict[str, Any], Path]]] = {}
    for cfg_file in sorted(sweep_dir.rglob("config.yaml")):
        run_dir = cfg_file.parent
        if "merged" in run_dir.relative_to(sweep_dir).parts or not (run_dir / "scores.csv").is_file():
            continue
        cfg: dict[str, Any] = OmegaConf.to_container(OmegaConf.load(cfg_file))  # type: ignore[assignment]
        if "shard" not in cfg or cfg["shard"]["count"] <= 1:
            continue
        key = {k: v for k, v in cfg.items() if k != "shard"} | {"shard_count": cfg["shard"]["count"]}
        groups.setdefault(digest(key), []).append((cfg, run_dir))
    return groups


def merge_group(shards: list[tuple[dict[str, Any], Path]], out_dir: Path) -> list[dict[str, Any]]:
    """Merge one group's shards into ``out_dir``; return its correlation records."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    from zcnas.run import evaluate_table  # noqa: PLC0415

    count = shards[0][0]["shard"]["count"]
    by_index = {cfg["shard"]["index"]: run_dir for cfg, run_dir in shards}
    missing = sorted(set(range(count)) - set(by_index))
    if missing:
        raise ValueError(f"shards {missing} of {count} are missing for {shards[0][1].parent}; rerun them "
                         f"(shard.index={missing[0]}) and merge again")
    tables = [pd.read_csv(by_index[k] / "scores.csv") for k in range(count)]
    summaries = [json.loads((by_index[k] / "run_summary.json").read_text()) for k in range(count)]
    n = sum(len(t) for t in tables)
    table = (pd.concat([t.assign(_pos=k + count * np.arange(len(t))) for k, t in enumerate(tables)])
             .sort_values("_pos").drop(columns="_pos").reset_index(drop=True))  # row j of shard k = arch k+j*n

    cfg = dict(shards[0][0]) | {"shard": {"index": 0, "count": 1}}
    conf = OmegaConf.create(cfg)
    scored = summaries[0]["mlflow"]["tags"]["proxies"].split(",")
    targets = [c for c in table.columns if c != "arch" and c not in scored]
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "scores.csv", index=False)
    t0 = time.perf_counter()
    correlations, tags = evaluate_table(conf, table, scored, targets, out_dir)
    meta = summaries[0]["mlflow"]
    summary = {"n_archs": n, "n_computed": sum(s["n_computed"] for s in summaries),
               "n_cached": sum(s["n_cached"] for s in summaries),
               "seconds": sum(s["seconds"] for s in summaries), "shards": count,
               "merge_seconds": time.perf_counter() - t0,
               "mlflow": {"name": meta["name"].rsplit("-shard", 1)[0] + f"-merged{count}",
                          "tags": {**meta["tags"], **tags, "merged_shards": str(count)}}}
    write_outputs(out_dir, cfg, table, scored, targets, correlations, summary)
    return correlations


def merge(sweep_dir: Path, tracker: Any = None,
          groups: dict[str, list[tuple[dict[str, Any], Path]]] | None = None) -> list[Path]:
    """Merge every sharded group under ``sweep_dir`` (``groups``: :func:`find_shards`' answer, if
    already at hand) into ``sweep_dir/merged/<i>``; log each with ``tracker``; return the dirs."""
    groups = find_shards(sweep_dir) if groups is None else groups
    if not groups:
        raise ValueError(f"no sharded runs (shard.count>1 with scores.csv) under {sweep_dir}")
    outs = []
    for i, shards in enumerate(groups.values()):
        out = sweep_dir / "merged" / (str(i) if len(groups) > 1 else "")
        correlations = merge_group(shards, out)
        log.info("merged %d shards -> %s", len(shards), out)
        print(format_table(correlations))
        if tracker is not None:
            tracker.log_dir(out)
        outs.append(out)
    return outs


def main(argv: list[str] | None = None) -> None:
    """``python -m zcnas.merge <sweep_dir> [--tracking-uri URI]``."""
    parser = argparse.ArgumentParser(prog="python -m zcnas.merge", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--tracking-uri", default=None, help="also log the merged runs to MLflow here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    tracker = None
    if args.tracking_uri:
        from zcnas.tracking import MlflowTracker  # noqa: PLC0415

        tracker = MlflowTracker(args.tracking_uri)
    try:
        merge(args.sweep_dir, tracker)
    except (ValueError, OSError) as err:
        sys.exit(f"zcnas.merge: error: {err}")


if __name__ == "__main__":
    main()
