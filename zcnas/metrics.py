"""Rank-correlation metrics between proxy scores and ground truth (numpy/scipy only).

Non-finite scores (NaN/inf) and missing ground truth are excluded pairwise and counted in
``n_nan``; they never raise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats


def top_k_precision(scores: np.ndarray, truth: np.ndarray, k_frac: float = 0.1) -> float:
    """|top-k by score ∩ top-k by truth| / k with k = ceil(k_frac * n) (NB-Suite-Zero Prec@k)."""
    n = len(scores)
    if n == 0:
        return math.nan
    k = max(1, math.ceil(k_frac * n))
    top_s = set(np.argsort(-scores, kind="stable")[:k].tolist())
    top_t = set(np.argsort(-truth, kind="stable")[:k].tolist())
    return len(top_s & top_t) / k


def correlate(scores: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Spearman, Kendall-τ(b), Pearson and top-10% precision over the pairs where both are finite.

    Returns:
        ``{spearman, kendall, pearson, top10_precision, n, n_nan}``; the correlations are NaN
        when fewer than 3 finite pairs remain or a side is constant.
    """
    scores = np.asarray(scores, dtype=float)
    truth = np.asarray(truth, dtype=float)
    ok = np.isfinite(scores) & np.isfinite(truth)
    s, t = scores[ok], truth[ok]
    out: dict[str, Any] = {"n": int(ok.sum()), "n_nan": int((~np.isfinite(scores)).sum())}
    if ok.sum() < 3 or np.ptp(s) == 0 or np.ptp(t) == 0:
        return {**out, "spearman": math.nan, "kendall": math.nan, "pearson": math.nan,
                "top10_precision": math.nan}
    return {**out,
            "spearman": float(stats.spearmanr(s, t).statistic),
            "kendall": float(stats.kendalltau(s, t).statistic),
            "pearson": float(stats.pearsonr(s, t).statistic),
            "top10_precision": top_k_precision(s, t, 0.1)}


def discretize(x: np.ndarray, bins: int = 24, binning: str = "quantile") -> np.ndarray:
    """Bin indices 0..bins-1: equal-frequency (``quantile``, via ranks) or equal-width (``uniform``)."""
    x = np.asarray(x, dtype=float)
    if binning == "quantile":
        ranks = stats.rankdata(x, method="average")
        return np.minimum(((ranks - 1) / len(x) * bins).astype(int), bins - 1)
    if binning == "uniform":
        lo, hi = np.min(x), np.max(x)
        if hi == lo:
            return np.zeros(len(x), dtype=int)
        return np.minimum(((x - lo) / (hi - lo) * bins).astype(int), bins - 1)
    raise ValueError(f"unknown binning {binning!r}; valid: quantile, uniform")


def joint_entropy(*codes: np.ndarray) -> float:
    """Shannon entropy (bits) of the joint distribution of discrete codes."""
    _, counts = np.unique(np.stack(codes, 1), axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def information_gain(y: np.ndarray, z1: np.ndarray, z: np.ndarray, bins: int = 24,
                     binning: str = "quantile") -> float:
    """IG(z) = H(y|z1) − H(y|z1,z), with H(y|A) = H(y,A) − H(A) over ``bins``-bin histograms
    (NAS-Bench-Suite-Zero §4 convention; LIBRA-NAS Eq. 9)."""
    cy, c1, cz = (discretize(v, bins, binning) for v in (y, z1, z))
    h_y_z1 = joint_entropy(cy, c1) - joint_entropy(c1)
    h_y_z1z = joint_entropy(cy, c1, cz) - joint_entropy(c1, cz)
    return h_y_z1 - h_y_z1z
