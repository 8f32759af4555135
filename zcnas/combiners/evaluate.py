"""Combiner evaluation under two protocols, always named in the record:

* ``held_out`` (honest): fit on a seeded calibration part, report on the disjoint rest;
* ``in_sample`` (LIBRA-NAS's reading of its Table 1): fit and report on the same labelled archs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from zcnas.metrics import correlate


def split(n: int, n_fit: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (fit, eval) index arrays: ``n_fit`` archs (a fraction if < 1) for fitting."""
    k = int(round(n_fit * n)) if n_fit < 1 else int(n_fit)
    if not 0 < k < n - 2:
        raise ValueError(f"combiner.n_fit={n_fit} leaves no room: {n} labelled archs need a fit part "
                         f"and at least 3 evaluation archs")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:k]), np.sort(perm[k:])


PROTOCOLS = ("held_out", "in_sample")


def evaluate(combiner: Any, Z: pd.DataFrame, y: np.ndarray, *, n_fit: float, seed: int,
             protocol: str = "held_out") -> dict[str, Any]:
    """Fit a clone of ``combiner`` and correlate its predictions: ``held_out`` fits on the calibration
    part and scores the evaluation part; ``in_sample`` fits and scores all archs. Returns the
    correlation record plus ``n_fit``, ``protocol``, ``fitted`` (the fitted estimator), ``eval_idx``
    (the rows it is reported on) and ``pred`` (its scores there)."""
    y = np.asarray(y, dtype=float)
    if protocol == "in_sample":
        fit_idx = eval_idx = np.arange(len(Z))
    elif protocol == "held_out":
        fit_idx, eval_idx = split(len(Z), n_fit, seed)
    else:
        raise ValueError(f"combiner.protocol={protocol!r}: valid are {', '.join(PROTOCOLS)}")
    est = clone(combiner).fit(Z.iloc[fit_idx].reset_index(drop=True), y[fit_idx])
    pred = est.predict(Z.iloc[eval_idx].reset_index(drop=True))
    return {**correlate(pred, y[eval_idx], seed=seed), "n_fit": len(fit_idx), "protocol": protocol, "fitted": est,
            "eval_idx": eval_idx, "pred": np.asarray(pred, dtype=float)}


def describe(est: Any) -> dict[str, str]:
    """What a fitted combiner chose, as flat strings (for MLflow params/tags)."""
    out = {}
    if hasattr(est, "selected_"):
        out["selected"] = ",".join(est.selected_)
    if hasattr(est, "feature_importances_"):
        top = est.feature_importances_.sort_values(ascending=False).head(5)
        out["top_features"] = ",".join(f"{k}:{v:.3f}" for k, v in top.items())
    return out


@dataclass
class Assessment:
    """One combiner fitted and correlated under a protocol (:func:`assess`)."""

    record: dict[str, Any]
    """The correlation record on the evaluation archs, with ``n_fit`` and ``protocol``."""
    fitted: Any
    """The fitted estimator."""
    eval_idx: np.ndarray
    """Rows the record is computed on (all rows for ``in_sample``)."""
    pred: np.ndarray
    """The combiner's scores on those rows."""
    chosen: dict[str, str]
    """What it chose (:func:`describe`)."""

    def tags(self, name: str, target: str) -> dict[str, str]:
        """``{"<name>/<target>/<key>": value}``: what it chose, as MLflow tags."""
        return {f"{name}/{target}/{k}": v for k, v in self.chosen.items()}


def assess(combiner: Any, Z: pd.DataFrame, y: np.ndarray, *, n_fit: float, seed: int, protocol: str = "held_out",
           diagnostics: Path | None = None) -> Assessment:
    """Fit -> correlate (:func:`evaluate`) -> write the fitted combiner's per-proxy ``diagnostics_`` table
    to ``diagnostics`` (CSV; when it has one and a path is given) -> :func:`describe` what it chose."""
    res = evaluate(combiner, Z, y, n_fit=n_fit, seed=seed, protocol=protocol)
    est, idx, pred = res.pop("fitted"), res.pop("eval_idx"), res.pop("pred")
    if diagnostics is not None and hasattr(est, "diagnostics_"):
        est.diagnostics_.to_csv(diagnostics, index=False)
    return Assessment(res, est, idx, pred, describe(est))


def baselines(Z: pd.DataFrame, y: np.ndarray, idx: Any, seed: int) -> dict[str, dict[str, Any]]:
    """Every single column of ``Z`` correlated with ``y`` on the rows ``idx`` (a combiner's evaluation
    archs), so a combiner is compared with each of its inputs on the same archs."""
    y = np.asarray(y, dtype=float)
    return {c: correlate(Z[c].to_numpy(dtype=float)[idx], y[idx], seed=seed) for c in Z.columns}
