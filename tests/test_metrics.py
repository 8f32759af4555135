"""zcnas.metrics: nDCG@k against a hand-computed example, the Spearman bootstrap interval's
determinism and coverage, and correlate's record."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zcnas.metrics import correlate, ndcg_at_k, spearman_bootstrap


def test_ndcg_hand_computed():
    # truth 0, 1, 2 -> relevance 0, 1/2, 1 -> gains 0, √2 − 1, 1; the score ranks a, b, c (worst first)
    scores, truth = np.array([3.0, 2.0, 1.0]), np.array([0.0, 1.0, 2.0])
    g = math.sqrt(2) - 1
    dcg = 0 / 1 + g / math.log2(3)           # positions 1, 2 hold a (gain 0) and b (gain g)
    idcg = 1 / 1 + g / math.log2(3)          # ideal: c then b
    assert ndcg_at_k(scores, truth, 2) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(scores, truth, 2) == pytest.approx(0.207193, abs=1e-6)
    assert ndcg_at_k(truth, truth, 2) == pytest.approx(1.0)
    assert ndcg_at_k(scores, truth, 1) == 0.0  # the top pick is the worst arch
    full = (0 + g / math.log2(3) + 1 / 2) / (1 + g / math.log2(3) + 0)
    assert ndcg_at_k(scores, truth, 3) == pytest.approx(full)
    assert math.isnan(ndcg_at_k(scores, np.ones(3), 2))


def test_ndcg_rewards_the_top():
    truth = np.arange(100.0)
    top_right = truth.copy()
    top_right[:90] = truth[:90][::-1]  # the bottom 90 % shuffled, top 10 in order
    bottom_right = truth.copy()
    bottom_right[90:] = truth[90:][::-1]  # the top 10 reversed, the rest in order
    assert ndcg_at_k(top_right, truth, 10) == pytest.approx(1.0)
    assert ndcg_at_k(bottom_right, truth, 10) < 1.0
    # while Spearman prefers the second
    assert correlate(bottom_right, truth)["spearman"] > correlate(top_right, truth)["spearman"]


def test_bootstrap_deterministic_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    a, b = spearman_bootstrap(x, y, seed=0), spearman_bootstrap(x, y, seed=0)
    assert a == b
    assert spearman_bootstrap(x, y, seed=1) != a
    rec = correlate(x, y)
    assert rec["spearman_lo"] < rec["spearman"] < rec["spearman_hi"]
    assert (rec["spearman_lo"], rec["spearman_hi"]) == a
    assert 0.1 < rec["spearman_hi"] - rec["spearman_lo"] < 0.3  # ~4 standard errors of ρ at n = 200


def test_bootstrap_coverage():
    """The 95 % interval covers the population Spearman ρ_s = (6/π) asin(r/2) of a bivariate normal
    in 90-99 % of 200 samples of 80 pairs."""
    r = 0.6
    rho_s = 6 / math.pi * math.asin(r / 2)
    rng = np.random.default_rng(0)
    cov = np.array([[1, r], [r, 1]])
    hits = 0
    for i in range(200):
        x, y = rng.multivariate_normal([0, 0], cov, size=80).T
        lo, hi = spearman_bootstrap(x, y, n_boot=500, seed=i)
        hits += lo <= rho_s <= hi
    assert 0.90 <= hits / 200 <= 0.99, hits


def test_correlate_record_and_degenerate_input():
    rec = correlate(np.array([1.0, 2.0, np.nan, 4.0, 5.0]), np.array([2.0, 1.0, 3.0, 5.0, 4.0]))
    assert rec["n"] == 4 and rec["n_nan"] == 1
    assert set(rec) >= {"spearman", "spearman_lo", "spearman_hi", "kendall", "pearson", "top10_precision", "ndcg10"}
    flat = correlate(np.ones(5), np.arange(5.0))
    assert all(math.isnan(flat[k]) for k in ("spearman", "spearman_lo", "ndcg10"))
    assert math.isnan(correlate(np.arange(5.0), np.arange(5.0), n_boot=0)["spearman_lo"])
