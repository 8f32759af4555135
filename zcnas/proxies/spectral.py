"""Spectral proxies: eigenvalues of feature correlations (MeCo), of the NTK (TE-NAS) and of block
feature/gradient covariances (AZ-NAS).

* MeCo: Jiang et al., "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum
  Eigenvalue of Correlation", NeurIPS 2023; reference ``HamsterMimi/MeCo:correlation/NAS_Bench_201.py``.
* TE-NAS: Chen, Gong, Wang, "Neural Architecture Search on ImageNet in Four GPU Hours: A
  Theoretically Inspired Perspective", ICLR 2021; reference ``VITA-Group/TENAS`` and AZ-NAS's
  ``indicators/te_nas.py`` (``get_ntk_n``).
* AZ-NAS: Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search",
  CVPR 2024; reference ``cvlab-yonsei/AZ-NAS:ImageNet_MBV2/ZeroShotProxy/compute_az_nas_score.py``
  (CNNs) and ``ImageNet_AutoFormer/lib/training_free/indicators/az_nas.py`` (ViTs).

Deliberate deviations (all on the shared probe batch, the network's own initialisation):
* MeCo hooks every module but reads the first sample of the *batch* forward (BatchNorm sees the batch
  statistics; the reference forwards one image). Token outputs ``(N, C)`` are read as C channels x N
  tokens, so "channels" means the hidden units for CNNs and ViTs alike.
* AZ-NAS keeps the network's own initialisation (the reference re-initialises CNNs Kaiming fan-in),
  uses a fixed generator for the Rademacher g_out, and finds blocks generically
  (:func:`zcnas.probe.block_modules`). Identity blocks are skipped in trainability for CNNs too.
* TE-NAS NTK uses the probe batch (TE-NAS NB201 used real training images too; AZ-NAS's port uses
  Gaussian inputs) and all Conv/Linear weights.
"""

from __future__ import annotations

import math

import torch

from zcnas.probe import Probe
from zcnas.proxies._registry import NotApplicable, register_proxy, require


def min_corr_eig(f: torch.Tensor) -> float:
    """λ_min of the Pearson correlation of the rows of ``f`` (NaN/inf entries set to 0), MeCo's term."""
    c = torch.corrcoef(f.double())
    c = torch.where(torch.isfinite(c), c, torch.zeros_like(c))
    return float(torch.linalg.eigvalsh(c)[0])


@register_proxy("meco", needs=("first_sample_features",))
def meco(probe: Probe) -> float:
    """Σ_modules λ_min(corrcoef(F)), F the first sample's (channels x positions) output of every module.
    Reference: Jiang et al., NeurIPS 2023 (MeCo)."""
    return sum(min_corr_eig(f) for f in probe.first_sample_features if f.shape[0] > 1 and f.shape[1] > 1)


@register_proxy("meco_opt", needs=("first_sample_features",),
                check=lambda p: require(p["channels"] >= 1 and p["seed"] >= 0, "channels must be >= 1 and seed >= 0"))
def meco_opt(probe: Probe, channels: int = 8, seed: int = 0) -> float:
    """Σ_modules (C/8) λ_min(corrcoef(F_S)), F_S 8 channels drawn without replacement (a fixed generator).
    Reference: Jiang et al., NeurIPS 2023 (MeCo_opt)."""
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for f in probe.first_sample_features:
        c = f.shape[0]
        if c < channels or f.shape[1] < 2:
            continue
        idx = torch.randperm(c, generator=gen)[:channels].to(f.device)
        total += min_corr_eig(f[idx]) * c / channels
    return total


@register_proxy("tenas_ntk", needs=("ntk_eigs",), check=lambda p: require(p["n_samples"] >= 2, "n_samples must be >= 2"))
def tenas_ntk(probe: Probe, n_samples: int = 32) -> float:
    """−κ, κ = λ_max/λ_min of the NTK Θ = J Jᵀ (J: per-sample ∂(1ᵀf)/∂θ); sign-flipped so that higher
    is better (TE-NAS: lower κ is better). Reference: Chen et al., ICLR 2021 (TE-NAS)."""
    lam = probe.ntk_eigs(min(n_samples, len(probe.inputs)))
    return -float(lam[-1] / lam[0]) if float(lam[0]) > 0 else -math.inf


@register_proxy("aznas_expressivity", needs=("block_terms",))
def aznas_expressivity(probe: Probe) -> float:
    """Σ_blocks H(λ/Σλ), H the entropy of the normalised eigenvalues of each block feature's channel
    covariance (isotropy). Reference: Lee & Ham, CVPR 2024 (AZ-NAS expressivity)."""
    return sum(probe.block_terms[0])


@register_proxy("aznas_progressivity", needs=("block_terms",))
def aznas_progressivity(probe: Probe) -> float:
    """min_l (s_{l+1} − s_l) over consecutive block expressivities s (CNNs only: AZ-NAS omits it for
    ViTs, here NaN with a logged reason). Reference: Lee & Ham, CVPR 2024 (AZ-NAS progressivity)."""
    scores, _, tokens = probe.block_terms
    if tokens:
        raise NotApplicable("progressivity is defined for CNN feature hierarchies; AZ-NAS omits it for ViTs")
    if len(scores) < 2:
        raise NotApplicable("progressivity needs at least one block")
    return min(b - a for a, b in zip(scores, scores[1:], strict=False))


@register_proxy("aznas_trainability", needs=("block_terms",))
def aznas_trainability(probe: Probe) -> float:
    """mean_blocks (−σ − 1/σ + 2), σ the spectral norm of the block Jacobian's cross-covariance for
    Rademacher output gradients (0 at σ = 1, best). Reference: Lee & Ham, CVPR 2024 (AZ-NAS trainability)."""
    terms = [t for t in probe.block_terms[1] if not math.isnan(t)]
    if not terms:
        raise NotApplicable("no block with a gradient path from its output to its input")
    return sum(terms) / len(terms)
