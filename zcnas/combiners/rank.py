"""Rank-aggregation combiners and the shared input checks.

* ``rank_mean``: mean of per-proxy ranks (TE-NAS-style rank sum, scaled).
* ``aznas_rank``: AZ-NAS's rule Σ_m log(rank_m / N) over whichever proxies the run computes (Lee & Ham,
  CVPR 2024, arXiv 2403.19232; reference ``cvlab-yonsei/AZ-NAS``).
* ``aznas`` and ``vkdnw_agg``: the same Σ log(rank/N) over a fixed set (:class:`RankAggregate`): ``aznas`` is
  AZ-NAS's published score, its expressivity, progressivity, trainability + FLOPs (complexity; reference
  ``NB201/tss_general.ipynb``); ``vkdnw_agg`` is VKDNW + the same four (Týbl & Neumann, CVPR 2025,
  arXiv 2502.04975, "VKDNW_agg"; reference ``ondratybl/VKDNW``, the aggregation of its MobileNetV2 search script).

Ranks are 1..N with the best (highest) score ranked N; NaN scores rank lowest.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

log = logging.getLogger(__name__)
MERGES = ("rank_sum", "log_rank", "zscore")


def ranks(col: np.ndarray) -> np.ndarray:
    """1..N ranks (N = best), NaN/inf ranked below every finite score."""
    col = np.asarray(col, dtype=float)
    filled = np.where(np.isfinite(col), col, -np.inf)
    return stats.rankdata(filled, method="average")


def merge(z: pd.DataFrame, how: str) -> np.ndarray:
    """Merge proxy columns into one score: ``rank_sum`` | ``log_rank`` (AZ-NAS) | ``zscore``."""
    if how == "rank_sum":
        return np.sum([ranks(z[c]) for c in z], axis=0)
    if how == "log_rank":
        return np.sum([np.log(ranks(z[c]) / len(z)) for c in z], axis=0)
    if how == "zscore":  # standardised on the finite values; NaN and -inf rank last, +inf first
        cols = []
        for c in z:
            v = z[c].to_numpy(dtype=float)
            f = np.isfinite(v)
            mu, sd = (v[f].mean(), v[f].std() or 1.0) if f.any() else (0.0, 1.0)
            cols.append(np.where(np.isnan(v), -np.inf, (v - mu) / sd))
        return np.mean(cols, axis=0)
    raise ValueError(f"unknown merge {how!r}; valid: {', '.join(MERGES)}")


def usable_columns(Z: pd.DataFrame, y: np.ndarray | None = None, min_rows: int = 3) -> list[str]:
    """Proxy columns with enough finite values; all-NaN or constant columns are dropped with a
    warning. Raise a one-line error if none is left, or if ``y`` is constant or too short."""
    if y is not None:
        y = np.asarray(y, dtype=float)
        if len(y) < min_rows:
            raise ValueError(f"need at least {min_rows} labelled archs to fit, got {len(y)}")
        if np.nanstd(y) == 0:
            raise ValueError("the target column is constant: nothing to rank against")
    keep = []
    for c in Z.columns:
        v = Z[c].to_numpy(dtype=float)
        finite = np.isfinite(v)
        if finite.sum() < min_rows or np.ptp(v[finite]) == 0:
            log.warning("proxy column %s is all NaN or constant: excluded", c)
        else:
            keep.append(c)
    if not keep:
        raise ValueError(f"no usable proxy column among {list(Z.columns)} (all NaN or constant)")
    return keep


class _LabelFreeRank(BaseEstimator):
    """Shared fit for the label-free rank aggregations: remember the usable columns."""

    def fit(self, Z: pd.DataFrame, y: np.ndarray | None = None) -> _LabelFreeRank:
        """Record the usable proxy columns."""
        self.columns_ = usable_columns(Z)
        return self


class RankMean(_LabelFreeRank):
    """Mean of per-proxy ranks over the usable columns (label-free)."""

    def predict(self, Z: pd.DataFrame) -> np.ndarray:
        """Mean rank / N, in (0, 1]."""
        check_is_fitted(self)
        return merge(Z[self.columns_], "rank_sum") / (len(self.columns_) * len(Z))


class AZNASRank(_LabelFreeRank):
    """AZ-NAS aggregation Σ_m log(rank_m / N) over the usable columns (label-free)."""

    def predict(self, Z: pd.DataFrame) -> np.ndarray:
        """Σ log(rank/N), ≤ 0."""
        check_is_fitted(self)
        return merge(Z[self.columns_], "log_rank")


class RankAggregate(BaseEstimator):
    """A label-free aggregation of a fixed set of proxies (``merge`` of their ranks, :func:`merge`): the
    published aggregates (VKDNW_agg). A run without one of them is a one-line error before any scoring."""

    def __init__(self, columns: tuple[str, ...] | list[str] = (), merge: str = "log_rank", name: str = "rank") -> None:
        self.columns = columns
        self.merge = merge
        self.name = name

    def check_columns(self, columns: list[str]) -> None:
        """One-line error naming the proxies of the aggregate the run does not compute."""
        missing = [c for c in self.columns if c not in list(columns)]
        if missing:
            raise ValueError(f"combiner={self.name} aggregates {list(self.columns)}; this run does not compute "
                             f"{', '.join(missing)}: add them, e.g. proxy=[{','.join(self.columns)}]")
        if self.merge not in MERGES:
            raise ValueError(f"combiner.estimator.merge={self.merge!r}: valid are {', '.join(MERGES)}")

    def fit(self, Z: pd.DataFrame, y: np.ndarray | None = None) -> RankAggregate:
        """Check the columns (nothing is learnt)."""
        self.check_columns(list(Z.columns))
        self.columns_ = list(self.columns)
        return self

    def predict(self, Z: pd.DataFrame) -> np.ndarray:
        """The merged ranks of the fixed columns (higher = better)."""
        check_is_fitted(self)
        return merge(Z[self.columns_], self.merge)
