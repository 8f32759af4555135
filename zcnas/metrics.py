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


def ndcg_at_k(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """nDCG@k = DCG@k / IDCG@k, DCG@k = Σ_{j≤k} (2^{r_(j)} − 1) / log2(j + 1), r_(j) the relevance of the
    j-th arch by score, r = (t − min t) / (max t − min t) ∈ [0, 1] (the min-max scaled ground truth).
    1 when the top k by score are the top k by truth in order; it rewards the top of the ranking, as
    a search needs (VKDNW, Týbl & Neumann, CVPR 2025, §5; Järvelin & Kekäläinen 2002)."""
    scores, truth = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    n = len(scores)
    if n == 0 or k < 1 or np.ptp(truth) == 0:
        return math.nan
    k = min(k, n)
    gain = 2.0 ** ((truth - truth.min()) / np.ptp(truth)) - 1.0
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(gain[np.argsort(-scores, kind="stable")[:k]] @ disc)
    idcg = float(np.sort(gain)[::-1][:k] @ disc)
    return dcg / idcg


def _weighted_ranks(v: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Average ranks of ``v`` within each resample, given as multiplicities ``counts`` (B, n): an
    element with value u ranks #(< u) + (#(= u) + 1) / 2, ties (repeats included) averaged."""
    order = np.argsort(v, kind="stable")
    vs, c = v[order], counts[:, order]
    csum = np.cumsum(c, axis=1)
    new = np.r_[True, vs[1:] != vs[:-1]]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(vs)] - 1
    below = np.where(starts > 0, csum[:, np.maximum(starts - 1, 0)], 0)
    size = csum[:, ends] - below
    group = np.cumsum(new) - 1
    ranks = np.empty_like(c, dtype=float)
    ranks[:, order] = (below + (size + 1) / 2)[:, group]
    return ranks


def spearman_bootstrap(scores: np.ndarray, truth: np.ndarray, n_boot: int = 1000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's ρ: ``n_boot`` resamples of the (score, truth) pairs
    with replacement (multiplicities of a seeded generator's draws, so the interval is
    reproducible), ties averaged within each resample; resamples where a side is constant are
    skipped. Efron & Tibshirani 1993, §13."""
    scores, truth = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    n = len(scores)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    w = np.bincount(idx.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(float)
    rs, rt = _weighted_ranks(scores, w), _weighted_ranks(truth, w)
    rs -= (w * rs).sum(1, keepdims=True) / n
    rt -= (w * rt).sum(1, keepdims=True) / n
    den = np.sqrt((w * rs * rs).sum(1) * (w * rt * rt).sum(1))
    ok = den > 0
    rho = (w * rs * rt).sum(1)[ok] / den[ok]
    if len(rho) == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(rho, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def correlate(scores: np.ndarray, truth: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Spearman (with a seeded 95 % bootstrap interval), Kendall-τ(b), Pearson, top-10% precision and
    nDCG@k (k = 10 % of the archs) over the pairs where both are finite.

    Returns:
        ``{spearman, spearman_lo, spearman_hi, kendall, pearson, top10_precision, ndcg10, n, n_nan}``;
        the statistics are NaN when fewer than 3 finite pairs remain or a side is constant
        (``n_boot=0``: no interval, NaN bounds).
    """
    scores = np.asarray(scores, dtype=float)
    truth = np.asarray(truth, dtype=float)
    ok = np.isfinite(scores) & np.isfinite(truth)
    s, t = scores[ok], truth[ok]
    out: dict[str, Any] = {"n": int(ok.sum()), "n_nan": int((~np.isfinite(scores)).sum())}
    if ok.sum() < 3 or np.ptp(s) == 0 or np.ptp(t) == 0:
        return {**out, "spearman": math.nan, "spearman_lo": math.nan, "spearman_hi": math.nan,
                "kendall": math.nan, "pearson": math.nan, "top10_precision": math.nan, "ndcg10": math.nan}
    lo, hi = spearman_bootstrap(s, t, n_boot, seed) if n_boot > 0 else (math.nan, math.nan)
    return {**out,
            "spearman": float(stats.spearmanr(s, t).statistic), "spearman_lo": lo, "spearman_hi": hi,
            "kendall": float(stats.kendalltau(s, t).statistic),
            "pearson": float(stats.pearsonr(s, t).statistic),
            "top10_precision": top_k_precision(s, t, 0.1),
            "ndcg10": ndcg_at_k(s, t, max(1, math.ceil(0.1 * len(s))))}


BINNINGS = ("equal_width", "equal_frequency", "quantile_rank")


def discretize(x: np.ndarray, bins: int = 24, binning: str = "equal_width") -> np.ndarray:
    """Bin indices in 0..bins-1 of a 1-D sample.

    * ``equal_width``: ``bins`` equal intervals over [min, max] (NAS-Bench-Suite-Zero's code:
      ``np.histogram_bin_edges`` + ``np.digitize``, automl/NASLib zerocost branch,
      ``plotting/PlotMutualInformation.ipynb``); a heavy tail leaves most values in a few bins.
    * ``equal_frequency``: edges at the empirical quantiles 0, 1/bins, ..., 1; repeated edges (ties)
      are merged, so a column with k distinct values gets at most k bins.
    * ``quantile_rank``: bin = floor((average rank − 1) / n · bins), equal-frequency on the ranks;
      tied values share their average rank, hence one bin.

    A constant column is one bin; NaN is not allowed (callers drop non-finite rows first)."""
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError("discretize: non-finite values; drop NaN/inf rows before binning")
    if bins < 1:
        raise ValueError(f"bins={bins}: need at least one bin")
    lo, hi = (float(np.min(x)), float(np.max(x))) if len(x) else (0.0, 0.0)
    if hi == lo:
        return np.zeros(len(x), dtype=int)
    if binning == "equal_width":
        return np.minimum(((x - lo) / (hi - lo) * bins).astype(int), bins - 1)
    if binning == "equal_frequency":
        edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
        return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    if binning == "quantile_rank":
        ranks = stats.rankdata(x, method="average")
        return np.minimum(((ranks - 1) / len(x) * bins).astype(int), bins - 1)
    raise ValueError(f"unknown binning {binning!r}; valid: {', '.join(BINNINGS)}")


def joint_entropy(*codes: np.ndarray, miller_madow: bool = False) -> float:
    """Shannon entropy (bits) of the joint distribution of discrete codes; with ``miller_madow`` the
    plug-in estimate plus (m − 1) / (2 n ln 2), m the occupied cells (Miller 1955)."""
    cs = [np.asarray(c, dtype=np.int64) for c in codes]
    key = np.ravel_multi_index(cs, [int(c.max()) + 1 for c in cs]) if len(cs[0]) else np.zeros(0, np.int64)
    counts = np.bincount(np.unique(key, return_inverse=True)[1])
    p = counts / counts.sum()
    h = float(-(p * np.log2(p)).sum())
    return h + (len(counts) - 1) / (2 * counts.sum() * math.log(2)) if miller_madow else h


def information_gain(y: np.ndarray, z1: np.ndarray, z: np.ndarray, bins: int = 24,
                     binning: str = "equal_width", miller_madow: bool = False) -> float:
    """IG(z) = H(y|z1) − H(y|z1,z), with H(y|A) = H(y,A) − H(A) over ``bins``-bin histograms of each
    variable (LIBRA-NAS Eq. 9; entropies in bits, estimator per :func:`discretize`/:func:`joint_entropy`)."""
    cy, c1, cz = (discretize(v, bins, binning) for v in (y, z1, z))
    h = lambda *c: joint_entropy(*c, miller_madow=miller_madow)  # noqa: E731
    return (h(cy, c1) - h(c1)) - (h(cy, c1, cz) - h(c1, cz))
