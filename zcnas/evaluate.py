"""A run's table of scores evaluated: every (proxy, target) correlation, and the combiner's (fitted here, or
a selection fitted elsewhere applied). Shared by ``zcnas.run`` and ``zcnas.merge`` (a merged sweep is
evaluated as its unsharded run would be)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.metrics import correlate
from zcnas.plan import CombinerPlan
from zcnas.results import scatter_plot

log = logging.getLogger("zcnas.run")


def evaluate_table(table: pd.DataFrame, columns: list[str], targets: list[str], out_dir: Path,
                   combiner: CombinerPlan, seed: int,
                   where: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Correlation records for every (column, target) pair plus the combiner's, and its tags (``where``: the
    space, task and benchmark a fitted combiner's file names)."""
    correlations = [{"proxy": p, "target": t, **correlate(table[p].to_numpy(), table[t].to_numpy())}
                    for p in columns for t in targets]
    for t in targets:
        unusable = int((~np.isfinite(table[t].to_numpy(float))).sum())
        if unusable:
            log.warning("target %s: %d of %d archs have no usable label (null/NaN/inf in the benchmark); "
                        "they are excluded from its correlations", t, unusable, len(table))
    combined = (combine(table, columns, targets, out_dir, combiner, seed, where or {})
                + transferred(table, columns, targets, combiner, seed))
    correlations += [rec for rec, _ in combined]
    for r in correlations:
        if r["n_nan"]:
            log.warning("proxy %s: %d of %d scores are NaN/inf, excluded from its correlations",
                        r["proxy"], r["n_nan"], len(table))
    return correlations, {k: v for _, tags in combined for k, v in tags.items()}


def combine(table: pd.DataFrame, proxies: list[str], targets: list[str], out_dir: Path, combiner: CombinerPlan,
            seed: int, where: dict[str, str]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Fit the combiner per target (``combiner.protocol``: held out on a seeded calibration part, or in
    sample) and correlate it; beside it, every single proxy on the same evaluation archs
    (``<proxy>.held_out``); write its diagnostics, a scatter of its scores and, for a selection (LIBRA), what it
    fitted (``combiner_<name>_<target>.json``, applied elsewhere with ``combiner.from=``). Returns (correlation
    record, tags) pairs."""
    if combiner.estimator is None or not targets:
        return []
    from zcnas.combiners.evaluate import assess, baselines  # noqa: PLC0415
    from zcnas.combiners.saved import save_selection  # noqa: PLC0415

    name, protocol = combiner.name, combiner.protocol
    out: list[tuple[dict[str, Any], dict[str, str]]] = []
    for t in targets:
        y = table[t].to_numpy(dtype=float)
        res = assess(combiner.build(), table[proxies], y, n_fit=combiner.n_fit, seed=seed,
                     protocol=protocol, diagnostics=out_dir / f"combiner_{name}_{t}.csv")
        tags = res.tags(name, t)
        log.info("combiner %s on %s: %s", name, t, tags or "fitted")
        fit_rows = np.setdiff1d(np.arange(len(table)), res.eval_idx) if protocol == "held_out" else np.arange(len(table))
        save_selection(res.fitted, out_dir / f"combiner_{name}_{t}.json",
                       {**where, "target": t, "protocol": protocol, "seed": seed}, table["arch"].to_numpy()[fit_rows])
        if protocol == "held_out":
            out += [({"proxy": f"{p}.held_out", "target": t, "protocol": protocol, **rec}, {})
                    for p, rec in baselines(table[proxies], y, res.eval_idx, seed).items()]
        out.append(({"proxy": name, "target": t, **res.record}, tags))
        scatter_plot(out_dir / f"scatter_{name}_{t}.png", pd.DataFrame({name: res.pred, t: y[res.eval_idx]}), name,
                     [t], [out[-1][0]], label=f"{name} ({protocol.replace('_', '-')})")
    return out


def transferred(table: pd.DataFrame, columns: list[str], targets: list[str], combiner: CombinerPlan,
                seed: int) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """``combiner.from=<combiner.json>``: the saved selection applied to this run's scores, no fitting (a
    combiner fitted on one benchmark, ranked on another), its ρ per target with an interval beside every single
    proxy's on the same archs (record ``<combiner>.transferred``), and where it was fitted as tags."""
    if not combiner.applied_from:
        return []
    from zcnas.combiners.saved import load  # noqa: PLC0415

    saved = load(combiner.applied_from, "combiner.from")
    pred = saved.predict(table[columns])
    return [({"proxy": f"{saved.data['combiner']}.transferred", "target": t,
              **correlate(pred, table[t].to_numpy(dtype=float), seed=seed)}, saved.tags()) for t in targets]
