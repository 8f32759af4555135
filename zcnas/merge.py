"""``python -m zcnas.merge <sweep_dir>``: join the shards of sharded runs into one result.

Shard k of n scored ``sample[k::n]``; merging interleaves the shards' ``scores.csv`` back into the
sample's order and recomputes correlations (and the combiner) with the same code as ``zcnas.run``,
so ``<sweep_dir>/merged/<group>/`` holds exactly what the unsharded run writes. Runs of a sweep
are grouped by their resolved config without ``shard.index`` (e.g. one group per seed). A
multirun merges itself at its end (:class:`zcnas.callbacks.SweepCallback`).

Shard configs are read as data: YAML without interpolation (``${...}`` is refused), and nothing they
name is imported or instantiated except a combiner whose ``_target_`` is one of zcnas's own
(exported by :mod:`zcnas.combiners`), built from plain values. A shard whose ``scores.csv`` is torn or shorter
than its summary says is a one-line error naming it.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.cache import digest, merge_shard_caches
from zcnas.cli import one_line_errors
from zcnas.results import format_table, read_scores, read_yaml_data, write_outputs

log = logging.getLogger("zcnas.merge")


def _combiner_targets() -> set[str]:
    """The ``_target_`` of every combiner zcnas ships: the classes exported by :mod:`zcnas.combiners`."""
    import zcnas.combiners  # noqa: PLC0415

    return {f"zcnas.combiners.{name}" for name in zcnas.combiners.__all__}


def read_config(cfg_file: Path) -> dict[str, Any]:
    """A run's resolved ``config.yaml`` as plain data (the ``_target_`` of its space, task, ... are
    only compared, never followed). Refused (one-line error naming the file): an interpolation
    anywhere, or a ``combiner.estimator`` that is not one of zcnas's combiners with plain values (the
    only thing a merge builds)."""
    cfg = read_yaml_data(cfg_file)
    if not isinstance(cfg, dict):
        raise ValueError(f"{cfg_file}: not a zcnas run config (a mapping expected)")

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, where)
        elif isinstance(node, str) and "${" in node:
            raise ValueError(f"{cfg_file}: {where} holds an interpolation {node!r}; zcnas.run writes resolved "
                             "configs, so this file was edited: refusing to resolve it")

    walk(cfg, "")
    est = (cfg.get("combiner") or {}).get("estimator") if isinstance(cfg.get("combiner"), dict) else None
    if est is not None:
        allowed = _combiner_targets()
        if not isinstance(est, dict) or est.get("_target_") not in allowed:
            target = est.get("_target_") if isinstance(est, dict) else est
            raise ValueError(f"{cfg_file}: combiner.estimator names _target_ {target!r}, not one of zcnas's "
                             f"combiners {sorted(allowed)}; a merge instantiates nothing else")
        nested = [k for k, v in est.items() if isinstance(v, dict | list) or str(k).startswith("_") and k != "_target_"]
        if nested:
            raise ValueError(f"{cfg_file}: combiner.estimator has non-plain entries {nested}; refusing to build it")
    return cfg


def find_shards(sweep_dir: Path) -> dict[str, list[tuple[dict[str, Any], Path]]]:
    """Sharded run directories under ``sweep_dir``, grouped by config-without-shard-index."""
    groups: dict[str, list[tuple[dict[str, Any], Path]]] = {}
    for cfg_file in sorted(sweep_dir.rglob("config.yaml")):
        run_dir = cfg_file.parent
        if "merged" in run_dir.relative_to(sweep_dir).parts or not (run_dir / "scores.csv").is_file():
            continue
        cfg = read_config(cfg_file)
        shard = cfg.get("shard")
        if not isinstance(shard, dict) or not isinstance(shard.get("count"), int) or shard["count"] <= 1:
            continue
        key = {k: v for k, v in cfg.items() if k != "shard"} | {"shard_count": cfg["shard"]["count"]}
        groups.setdefault(digest(key), []).append((cfg, run_dir))
    return groups


def merge_group(shards: list[tuple[dict[str, Any], Path]], out_dir: Path) -> list[dict[str, Any]]:
    """Merge one group's shards into ``out_dir``; return its correlation records."""
    from zcnas.evaluate import evaluate_table  # noqa: PLC0415
    from zcnas.plan import CombinerPlan  # noqa: PLC0415

    count = shards[0][0]["shard"]["count"]
    by_index = {cfg["shard"]["index"]: run_dir for cfg, run_dir in shards}
    missing = sorted(set(range(count)) - set(by_index))
    if missing:
        raise ValueError(f"shards {missing} of {count} are missing for {shards[0][1].parent}; rerun them "
                         f"(shard.index={missing[0]}) and merge again")
    tables = [read_scores(by_index[k] / "scores.csv") for k in range(count)]
    summaries = []
    for k in range(count):
        f = by_index[k] / "run_summary.json"
        if not f.is_file():
            raise ValueError(f"shard {k} ({by_index[k]}) did not finish (no run_summary.json); rerun it with "
                             f"shard.index={k} (its scores come from the cache) and merge again")
        summary = json.loads(f.read_text())
        if summary.get("n_archs") != len(tables[k]):
            raise ValueError(f"shard {k}: {by_index[k] / 'scores.csv'} has {len(tables[k])} rows but its run "
                             f"summary says {summary.get('n_archs')}; rerun shard.index={k} and merge again")
        summaries.append(summary)
    n = sum(len(t) for t in tables)
    table = (pd.concat([t.assign(_pos=k + count * np.arange(len(t))) for k, t in enumerate(tables)])
             .sort_values("_pos").drop(columns="_pos").reset_index(drop=True))  # row j of shard k = arch k+j*n

    cfg = dict(shards[0][0]) | {"shard": {"index": 0, "count": 1}}
    scored = summaries[0].get("proxies") or summaries[0]["mlflow"]["tags"]["proxies"].split(",")  # old runs: the tag
    targets = [c for c in table.columns if c != "arch" and c not in scored]
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "scores.csv", index=False, na_rep="nan")  # as ScoreWriter writes NaN
    t0 = time.perf_counter()
    correlations, tags = evaluate_table(table, scored, targets, out_dir, CombinerPlan.of(cfg.get("combiner")),
                                        int(cfg["seed"]))
    saturated = {p: sum(s["saturated"].get(p, 0) for s in summaries) for p in summaries[0].get("saturated", {})}
    for r in correlations:  # the shards' saturation counts, as the unsharded run flags them
        if r["proxy"] in saturated:
            r["n_saturated"] = saturated[r["proxy"]]
    meta = summaries[0]["mlflow"]
    summary = {"n_archs": n, "proxies": scored, "n_computed": sum(s["n_computed"] for s in summaries),
               "n_cached": sum(s["n_cached"] for s in summaries),
               "seconds": sum(s["seconds"] for s in summaries), "shards": count,
               "cost": {k: sum(s["cost"][k] for s in summaries) for k in summaries[0].get("cost", {})
                        if all(k in s.get("cost", {}) for s in summaries)},  # the shards' together
               "merge_seconds": time.perf_counter() - t0, **({"saturated": saturated} if saturated else {}),
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
        cache: dict[str, Any] = shards[0][0]["cache"] if isinstance(shards[0][0].get("cache"), dict) else {}
        if cache.get("per_shard") and cache.get("path"):  # relative paths: from the sweep's working directory
            merge_shard_caches(cache["path"], shards[0][0]["shard"]["count"])
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
    with one_line_errors("zcnas.merge"):
        merge(args.sweep_dir, tracker)


if __name__ == "__main__":
    main()
