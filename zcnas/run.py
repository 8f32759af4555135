"""``python -m zcnas.run``: score sampled architectures with zero-cost proxies against ground truth.

The data flow, top to bottom: compose config -> space, task, benchmark, proxies -> one probe
batch -> archs from a uniform sample or a search; per arch: cached scores, else build, probe,
score, cache, add precomputed columns, append to scores.csv -> correlate each (proxy, target), fit/evaluate the combiner
-> write outputs -> log to the tracker -> print the table.

Examples:
    python -m zcnas.run                                   # 100 NB201 cells, L-SWAG, CIFAR-10
    python -m zcnas.run proxy=[lswag,nwot] n_archs=1000 seed=1
    python -m zcnas.run task=cifar100 tracking=none
"""

from __future__ import annotations

import logging
import math
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from zcnas.cache import NullCache, ScoreCache
from zcnas.metrics import correlate
from zcnas.probe import Probe
from zcnas.proxies import get_proxy, score
from zcnas.results import ScoreWriter, flatten, format_table, scatter_plot, write_json

log = logging.getLogger("zcnas.run")


def arch_seed(seed: int, arch: str) -> int:
    """Init seed of one architecture: depends on (seed, arch) only, not on sampling order."""
    return zlib.crc32(f"{seed}:{arch}".encode())


def instantiate(node: Any) -> Any:
    """``hydra.utils.instantiate`` that re-raises the builder's own error (one clear line)."""
    from hydra.errors import InstantiationException  # noqa: PLC0415
    from hydra.utils import instantiate as _instantiate  # noqa: PLC0415

    try:
        return _instantiate(node)
    except InstantiationException as err:
        raise (err.__cause__ or err) from None


def combine(cfg: Any, table: pd.DataFrame, proxies: list[str], targets: list[str],
            out_dir: Path) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Fit the configured combiner per target on a seeded calibration part of the scored archs and
    correlate it on the rest; write its diagnostics. Returns (correlation record, tags) pairs."""
    if cfg.combiner.estimator is None or not targets:
        return []
    from zcnas.combiners.evaluate import describe, evaluate  # noqa: PLC0415

    name, out = cfg.combiner.name, []
    for t in targets:
        res = evaluate(instantiate(cfg.combiner.estimator), table[proxies], table[t].to_numpy(),
                       n_fit=cfg.combiner.n_fit, seed=cfg.seed)
        est = res.pop("fitted")
        if hasattr(est, "diagnostics_"):
            est.diagnostics_.to_csv(out_dir / f"combiner_{name}_{t}.csv", index=False)
        tags = {f"{name}/{t}/{k}": v for k, v in describe(est).items()}
        log.info("combiner %s on %s: %s", name, t, tags or "fitted")
        out.append(({"proxy": name, "target": t, **res}, tags))
    return out


def score_archs(cfg: Any, out_dir: Path) -> dict[str, Any]:
    """Run the whole pipeline for a composed config; write outputs into ``out_dir``."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    t0 = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    space = instantiate(cfg.space)
    task = instantiate(cfg.task)
    benchmark = instantiate(cfg.benchmark)
    proxies: dict[str, dict[str, Any]] = OmegaConf.to_container(cfg.proxy, resolve=True) or {}  # type: ignore[assignment]
    for name in proxies:
        get_proxy(name)  # unknown names fail before any work
    if task.stand_in:
        log.warning("task %s: its own images are not available; %d CIFAR-10 images stand in at "
                    "%dx%d with a %d-class head (MLflow tag input_stand_in=true)",
                    task.name, cfg.batch_size, task.resolution, task.resolution, task.num_classes)

    # 1. one deterministic batch of real images per seed
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                          "cpu" if cfg.device == "auto" else cfg.device)
    x, y = (t.to(device) for t in task.batch(cfg.batch_size, cfg.seed))
    targets = benchmark.targets if benchmark is not None else []
    precomputed = benchmark.scores if benchmark is not None else None  # read, not computed (Suite-Zero)
    columns = [*proxies, *(precomputed.columns if precomputed is not None else [])]
    log.info("probing archs of %s on %s with batch_size=%d (%dx%d) on %s", space.name, task.name,
             cfg.batch_size, task.resolution, task.resolution, device)

    # 2. probe and score architectures; every row reaches disk as soon as it is made
    writer = ScoreWriter(out_dir / "scores.csv", ["arch", *columns, *targets])
    rows: list[dict[str, Any]] = []

    context = {**{k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("space", "task", "probe")},
               "batch_size": cfg.batch_size, "seed": cfg.seed}
    cache = ScoreCache(cfg.cache.path, context) if cfg.cache.path else NullCache()
    n_cached = 0

    def score_batch(archs: list[Any]) -> list[dict[str, float]]:
        nonlocal n_cached
        keys = [space.encode(a) for a in archs]
        truth = benchmark.lookup(keys) if benchmark is not None else None
        read = precomputed.reindex(keys) if precomputed is not None else None
        out = []
        for arch in tqdm(archs, desc="scoring", disable=None, mininterval=2, leave=False):
            key = space.encode(arch)
            scores = cache.get(key, proxies)
            todo = {n: p for n, p in proxies.items() if n not in scores}
            if todo:
                torch.manual_seed(arch_seed(cfg.seed, key))
                model = space.build(arch, num_classes=task.num_classes).to(device)
                probe = Probe(model, x, y, share_passes=cfg.probe.share_passes,
                              share_splits=cfg.probe.share_splits)
                new = score(probe, todo)
                cache.put(key, todo, new)
                scores.update(new)
            else:
                n_cached += 1
            scores = {n: scores[n] for n in proxies}
            row = {"arch": key, **scores, **(read.loc[key].to_dict() if read is not None else {}),
                   **(truth.loc[key].to_dict() if truth is not None else {})}
            writer.append(row)
            rows.append(row)
            out.append(scores)
            if len(rows) % cfg.log_every == 0:
                log.info("scored %d archs (%.1f s)", len(rows), time.perf_counter() - t0)
        return out

    # 3. which architectures: a uniform sample (of the benchmark's labelled ones, if any), or a search
    rng = np.random.default_rng(cfg.seed)
    if cfg.search.name == "none":
        pool = benchmark.sample(cfg.n_archs, rng) if benchmark is not None else space.sample(cfg.n_archs, rng)
        score_batch([space.decode(a) if isinstance(a, str) else a for a in pool])
        selected = None
    else:
        from zcnas.search.run import run_search  # noqa: PLC0415

        selected = run_search(cfg, space, benchmark, list(proxies), score_batch, rows, out_dir)
    writer.close()
    cache.close()
    log.info("scored %d archs (%.1f s)", len(rows), time.perf_counter() - t0)
    table = pd.DataFrame(rows)
    archs = list(table["arch"])

    # 4. correlate every (proxy, target) pair; targets are never pooled
    correlations = [{"proxy": p, "target": t, **correlate(table[p].to_numpy(), table[t].to_numpy())}
                    for p in columns for t in targets]
    combined = combine(cfg, table, columns, targets, out_dir)
    correlations += [rec for rec, _ in combined]
    for r in correlations:
        if r["n_nan"]:
            log.warning("proxy %s: %d of %d scores are NaN/inf, excluded from its correlations",
                        r["proxy"], r["n_nan"], len(table))

    # 5. outputs and tracking
    seconds = time.perf_counter() - t0
    summary = {"n_archs": len(archs), "n_computed": len(archs) - n_cached, "n_cached": n_cached,
               "seconds": seconds}
    resolved: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    OmegaConf.save(OmegaConf.create(resolved), out_dir / "config.yaml")
    files = [out_dir / "scores.csv", write_json(out_dir / "correlations.json", correlations),
             write_json(out_dir / "run_summary.json", summary), out_dir / "config.yaml"]
    if selected is not None:
        files.append(write_json(out_dir / "selected_arch.json", selected))
    plots = [scatter_plot(out_dir / f"scatter_{p}.png", table, p, targets, correlations)
             for p in columns if targets]
    metrics = {f"{m}/{r['proxy']}/{r['target']}": r[m] for r in correlations
               for m in ("spearman", "kendall", "pearson", "top10_precision")}
    tracker = instantiate(cfg.tracking)
    run_id = tracker.log_run(
        name=f"{space.name}-{task.name}-{'+'.join(proxies)}-s{cfg.seed}",
        params=flatten(resolved), metrics={**metrics, "seconds": seconds},
        tags={"input_stand_in": str(task.stand_in).lower(), "space": space.name, "task": task.name,
              "proxies": ",".join(columns), **{k: v for _, d in combined for k, v in d.items()},
              **({"selected_arch": selected["arch"]} if selected else {})},
        artifacts=files + plots + sorted(out_dir.glob("combiner_*.csv")))
    print(format_table(correlations))
    print(f"{len(archs)} archs in {seconds:.1f} s -> {out_dir}" + (f" (MLflow run {run_id})" if run_id else ""))
    return {"correlations": correlations, "summary": summary, "run_id": run_id}


def main() -> None:
    """Hydra entry point (``python -m zcnas.run [overrides]``)."""
    import hydra  # noqa: PLC0415
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415

    @hydra.main(version_base="1.3", config_path="../conf", config_name="config")
    def _run(cfg: Any) -> float:
        try:
            out = score_archs(cfg, Path(HydraConfig.get().runtime.output_dir))
        except (ValueError, KeyError, FileNotFoundError) as err:
            sys.exit(f"zcnas.run: error: {err}")
        first = out["correlations"][0]["spearman"] if out["correlations"] else math.nan
        return first

    _run()


if __name__ == "__main__":
    main()
