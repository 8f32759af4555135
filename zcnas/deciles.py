"""The per-arch decile record of L-SWAG's calibration: per depth decile, the mean log σ_w, the Λ terms and the
cumulative Ψ counts, from which every layer window's L-SWAG follows (Casarin, Escalera, Lanz, "L-SWAG", CVPR 2025,
arXiv 2505.07300, Eq. 1, 6, 7, Sec. 3.2 and Fig. 2; no public code). ``python -m zcnas.calibrate`` averages it over
random networks; ``python -m zcnas.run record_deciles=true`` writes it per scored arch (``deciles.csv``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from zcnas.probe import Probe, depth_bins
from zcnas.proxies.activation import unique_patterns
from zcnas.proxies.gradstats import layer_sigma_terms, window_layers


def decile_profile(probe: Probe, *, n_splits: int, accumulate: bool, bins: int, abs_grad: bool = True,
                   skip: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Per-arch calibration record: every window of L-SWAG follows from it,
    lswag[lo, hi] = Σ_{d∈[lo,hi]} lam[d] · psi[hi] and lswag_lambda[lo, hi] = Σ_{d∈[lo,hi]} lam[d]
    (for psi_lo = 0; Casarin et al., CVPR 2025, arXiv 2505.07300, Eq. 1, 6, 7 and Fig. 2).

    Returns:
        ``log_sigma`` (mean log σ_w per decile, NaN where no layer), ``lam`` (Σ of Λ layer terms
        per decile; a layer without any nonzero σ adds 0, as in :func:`lswag_lambda_term`) and ``psi``
        (#distinct patterns of activation layers with decile ≤ d).
    """
    keep = window_layers(probe, len(probe.grads(n_splits)), skip)
    log_sigma: list[list[float]] = [[] for _ in range(bins + 1)]
    lam = np.zeros(bins + 1)
    terms = layer_sigma_terms(probe, n_splits, accumulate, abs_grad, keep)  # shared with lswag, lswag_lambda
    for (inv, mean_log), b in zip(terms, depth_bins(len(keep), bins), strict=True):
        if inv == inv:
            log_sigma[b].append(mean_log)
            lam[b] += inv
    psi = np.zeros(bins + 1)
    codes, act_bins = probe.codes, depth_bins(len(probe.codes), bins)
    seen = torch.zeros((0, codes[0].shape[1] if codes else 1), dtype=torch.int64)
    for d in range(bins + 1):  # the distinct patterns so far, grown decile by decile (any batch size)
        new = [c for c, b in zip(codes, act_bins, strict=True) if b == d]
        if new:
            seen = unique_patterns([seen.to(new[0].device), *new])
        psi[d] = len(seen)
    return {"log_sigma": np.array([np.mean(v) if v else np.nan for v in log_sigma]), "lam": lam, "psi": psi}


def decile_record(probe: Probe, *, n_splits: int = 2, accumulate: bool = False, bins: int = 10,
                  abs_grad: bool = True, skip: Sequence[str] = ()) -> dict[str, float]:
    """:func:`decile_profile` flattened to ``{lam_<d>, psi_<d>, log_sigma_<d>}`` (one CSV row per arch):
    the record ``zcnas.run record_deciles=true`` writes to ``deciles.csv``."""
    rec = decile_profile(probe, n_splits=n_splits, accumulate=accumulate, bins=bins, abs_grad=abs_grad, skip=skip)
    return {f"{k}_{d}": float(v) for k in ("lam", "psi", "log_sigma") for d, v in enumerate(rec[k])}


def window_scores(record: pd.DataFrame, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """(lswag, lswag_lambda) of window [lo, hi] (psi_lo = 0) for every row of a ``deciles.csv`` table."""
    lam = record[[f"lam_{d}" for d in range(lo, hi + 1)]].to_numpy(float).sum(1)
    return lam * record[f"psi_{hi}"].to_numpy(float), lam
