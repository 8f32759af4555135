"""LIBRA-NAS (Casarin, Escalera, Lanz, CVPR 2025, arXiv 2505.07300, Algorithm 1): Low Information
gain and Bias Re-Alignment. A selection rule over already computed proxies, not a regressor.

Given labelled archs (proxy table Z, accuracy y):

1. z1 = the proxy with the best Spearman ρ with y.
2. Candidates = the other proxies with ρ in (ρ_best − window, ρ_best].
   z2 = the candidate with the *minimum* information gain IG = H(y|z1) − H(y|z1, z).
3. z3 = among the remaining candidates, the one whose bias b_z = Spearman(z, #params) is closest
   to the accuracy's bias b_val = Spearman(y, #params) (bias *matching*).

The three are merged into one score (UNCONFIRMED in the paper): ``merge=log_rank`` (default,
AZ-NAS's Σ log(rank/N)), ``rank_sum`` or ``zscore`` (mean z-score).

The information-gain estimator (the paper leaves it open) is explicit: ``binning`` ∈ {equal_width,
equal_frequency, quantile_rank} over ``bins`` histogram bins per variable, plus an optional
Miller–Madow bias correction (``miller_madow``); see :func:`zcnas.metrics.discretize`. The z2 pick
depends on it: with equal-frequency or rank bins #params (21 distinct values on NB201) often has the
lowest IG; with equal-width bins a heavy-tailed proxy (Suite-Zero's jacov, l2_norm) sits in one or two
bins and has the lowest IG instead.

Defaults ``binning=equal_width, bins=24, miller_madow=False, merge=log_rank`` were chosen on splits,
never on the scores that are reported: on each of the 19 NAS-Bench-Suite-Zero columns x 5 seeded
halves, every estimator (3 binnings x 12/24/48 bins x correction or not) and merge rule was scored
by an inner split of the *calibration* half (fit on half of it, ρ on the other half). Mean inner ρ
(24 bins, log_rank): equal-width 0.664, equal-frequency 0.661, rank bins 0.661; (equal-width, 24
bins): log_rank 0.664, rank_sum 0.659, zscore 0.614. Bin count (12/24/48) and the correction moved it
by < 0.001 (the best, 48 bins + correction, 0.665), below what 95 inner splits resolve, so the
24 bins and no correction of NAS-Bench-Suite-Zero's own mutual-information code are kept
(``np.histogram_bin_edges`` + ``np.digitize``, equal-width, round(1 + 3.322 ln n) = 23-24 bins for
725-1000 archs: automl/NASLib zerocost branch, ``plotting/PlotMutualInformation.ipynb``; its markdown
cell describes equal-frequency bins, its code does not). Numbers: experiments/libra_table1/README.md.

Ties and constant columns: tied values always share a bin; a column constant on the fitted archs is
dropped before selection (:func:`zcnas.combiners.rank.usable_columns`); NaN rows are dropped pairwise.

Deliberate choices: when the window holds fewer than two candidates, the missing picks are the
next-best proxies by ρ outside the window (``fallback_`` lists them, and a warning is logged).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from zcnas.combiners.rank import MERGES, merge, usable_columns
from zcnas.metrics import BINNINGS, correlate, information_gain

log = logging.getLogger(__name__)
SIZE_COLUMNS = ("params", "sz_params")  # computed #params, Suite-Zero's precomputed one


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    return float(correlate(a, b, n_boot=0)["spearman"])


class Libra(BaseEstimator):
    """LIBRA-NAS selection of three complementary proxies.

    Args:
        window: ρ window below the best proxy (0.1 in the paper).
        bins: histogram bins per variable of the entropy estimates.
        binning: ``equal_width`` | ``equal_frequency`` | ``quantile_rank`` (:func:`zcnas.metrics.discretize`).
        miller_madow: add the Miller–Madow bias correction to every entropy.
        merge: ``log_rank`` | ``rank_sum`` | ``zscore``.
        bias_column: the column holding #params (the bias reference); when the table lacks it, any
            size column it has serves (:data:`SIZE_COLUMNS`: computed ``params`` or Suite-Zero's
            precomputed ``sz_params``).
    """

    def __init__(self, window: float = 0.1, bins: int = 24, binning: str = "equal_width",
                 miller_madow: bool = False, merge: str = "log_rank", bias_column: str = "params") -> None:
        self.window = window
        self.bins = bins
        self.binning = binning
        self.miller_madow = miller_madow
        self.merge = merge
        self.bias_column = bias_column

    def bias_of(self, columns: list[str] | pd.Index) -> str:
        """The bias (#params) column among ``columns``: ``bias_column``, else the first size column."""
        for c in (self.bias_column, *SIZE_COLUMNS):
            if c in list(columns):
                return c
        raise ValueError(f"LIBRA needs the bias column {self.bias_column!r} (#params; any size column "
                         f"{list(SIZE_COLUMNS)} serves) among the proxies {list(columns)}: add params to proxy=[...]")

    def check_columns(self, columns: list[str]) -> None:
        """Raise before any scoring when the columns cannot serve LIBRA (no size column)."""
        self.bias_of(columns)

    def fit(self, Z: pd.DataFrame, y: np.ndarray) -> Libra:
        """Select z1, z2, z3 on the labelled table; diagnostics go to ``diagnostics_`` (ρ, window,
        the IG given z1 of every proxy but z1 under the chosen estimator, bias, role)."""
        if self.binning not in BINNINGS:
            raise ValueError(f"combiner.binning={self.binning!r}: valid are {', '.join(BINNINGS)}")
        if self.merge not in MERGES:
            raise ValueError(f"combiner.merge={self.merge!r}: valid are {', '.join(MERGES)}")
        bias_column = self.bias_of(Z.columns)
        y = np.asarray(y, dtype=float)
        cols = usable_columns(Z, y)
        if bias_column not in cols:
            raise ValueError(f"the bias column {bias_column!r} is constant or NaN on the fitted archs")
        ok = np.isfinite(y) & np.all([np.isfinite(Z[c].to_numpy(float)) for c in cols], axis=0)
        Zf, yf = Z.loc[ok, cols], y[ok]
        rho = pd.Series({c: _rho(Zf[c].to_numpy(), yf) for c in cols})
        z1 = str(rho.idxmax())
        in_window = (rho > rho[z1] - self.window) & (rho <= rho[z1]) & (rho.index != z1)
        params = Z.loc[ok, bias_column].to_numpy(float)
        b_val = _rho(yf, params)
        diag = pd.DataFrame({"rho": rho, "in_window": in_window})

        def ig(c: str, binning: str) -> float:
            return information_gain(yf, Zf[z1].to_numpy(), Zf[c].to_numpy(), self.bins, binning,
                                    self.miller_madow) if c != z1 else np.nan

        diag["ig"] = [ig(c, self.binning) for c in cols]
        diag["bias"] = [_rho(Zf[c].to_numpy(), params) for c in cols]
        diag["bias_gap"] = (diag["bias"] - b_val).abs()
        cand = diag[diag.in_window]
        z2 = str(cand["ig"].idxmin()) if len(cand) else None
        rest = cand.drop(index=[z2]) if z2 else cand
        z3 = str(rest["bias_gap"].idxmin()) if len(rest) else None
        self.fallback_ = []
        picks = [z1, z2, z3]
        for i, pick in enumerate(picks):
            if pick is None:  # fewer than three in the window: next best ρ outside it
                others = rho.drop(index=[p for p in picks if p]).sort_values(ascending=False)
                if len(others):
                    picks[i] = str(others.index[0])
                    self.fallback_.append(picks[i])
        if self.fallback_:
            log.warning("LIBRA: fewer than 3 proxies within %.2f of the best ρ; filled with %s",
                        self.window, self.fallback_)
        self.selected_ = [p for p in picks if p]
        diag["role"] = ""
        for role, p in zip(("z1", "z2", "z3"), self.selected_, strict=False):
            diag.loc[p, "role"] = role + (" (fallback)" if p in self.fallback_ else "")
        self.rho_, self.bias_val_ = rho, b_val
        self.directions_ = {p: 1 if rho[p] >= 0 else -1 for p in self.selected_}
        self.diagnostics_ = diag.rename_axis("proxy").reset_index()
        return self

    def predict(self, Z: pd.DataFrame) -> np.ndarray:
        """Merged score of the three selected proxies, each times its direction (the sign of its ρ on the fitted
        archs; +1 for every pick with ρ ≥ 0, the paper's case), higher = better; a saved copy
        (:mod:`zcnas.combiners.saved`) predicts the same."""
        check_is_fitted(self)
        return merge(pd.DataFrame({p: Z[p].to_numpy(float) * self.directions_[p] for p in self.selected_}), self.merge)
