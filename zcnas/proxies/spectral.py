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
from collections.abc import Generator

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.probe import Probe, Riding, block_modules, by_shape
from zcnas.proxies._registry import NotApplicable, register_artifact, register_proxy, require

AZ_EPS = 1e-8
"""AZ-NAS's guard in log(p + ε) of the expressivity entropy."""
AZ_SIGMA_EPS = 1e-6
"""AZ-NAS's guard in 1/(σ + ε) of the trainability term."""


def channels_last_rows(f: torch.Tensor) -> torch.Tensor:
    """A feature ``(B, C, *spatial)``, ``(B, tokens, C)`` or ``(B, C)`` as rows ``(B·positions, C)``."""
    if f.dim() > 3:
        return f.flatten(2).transpose(1, 2).reshape(-1, f.shape[1])
    return f.reshape(-1, f.shape[-1])


def covariance(f: torch.Tensor) -> torch.Tensor:
    """The channel covariance (float64) of a feature over its rows ``(B·positions, C)``."""
    rows = channels_last_rows(f.detach()).double()
    rows = rows - rows.mean(0, keepdim=True)
    return rows.T @ rows / len(rows)


def spectral_entropies(feats: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per feature, the entropy −Σ p log(p + ε) of the normalised eigenvalues p of its channel covariance (AZ-NAS
    expressivity; 0 for a constant feature), 0-d float64; one batched ``eigvalsh`` per channel count."""
    out = []
    for s in by_shape(torch.linalg.eigvalsh, feats, covariance):
        s = s.clamp_min(0)
        total = s.sum()
        p = s / total
        out.append(torch.where(total == 0, 0.0, -(p * torch.log(p + AZ_EPS)).sum()))
    return out


def cross_covariance(g_in: torch.Tensor, g_out: torch.Tensor) -> torch.Tensor | None:
    """g_inᵀ g_out / rows (float64) of a block's input and output gradients, strided CNN inputs pixel-unshuffled
    first; None where the row counts still differ."""
    if g_in.dim() == 4 and g_in.shape[2:] != g_out.shape[2:]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    a, b = channels_last_rows(g_in).double(), channels_last_rows(g_out).double()
    return a.T @ b / len(b) if len(a) == len(b) else None


def trainabilities(crosses: list[torch.Tensor | None]) -> list[torch.Tensor]:
    """Per block, −σ − 1/(σ + ε) + 2, σ the spectral norm of its cross-covariance (AZ-NAS trainability; 0 is
    best, at σ = 1; NaN without one), 0-d float64; one batched norm per shape."""
    sigmas = iter(by_shape(lambda m: torch.linalg.matrix_norm(m, ord=2), [c for c in crosses if c is not None]))
    out = []
    for c in crosses:
        if c is None:
            out.append(torch.tensor(math.nan, dtype=torch.float64))
            continue
        sigma = next(sigmas)
        out.append(-sigma - 1 / (sigma + AZ_SIGMA_EPS) + 2)
    return out


@register_artifact("block_terms", rides=True)
def block_terms(probe: Probe) -> Generator[Riding, None, tuple[list[float], list[float], bool]]:
    """AZ-NAS terms over :func:`~zcnas.probe.block_modules` from one train-mode forward of the batch (a rider of
    the shared pass): (spectral entropy of the first block's input and of every block output, in forward order;
    per block, the trainability (:func:`trainabilities`) of ∂(g_outᵀ out)/∂in for Rademacher g_out (a fixed
    generator), identity blocks and blocks on the raw input skipped; whether the features are token sequences)."""
    blocks = block_modules(probe.model)
    if not blocks:
        raise ValueError("no blocks found: AZ-NAS needs an nn.Sequential of composite modules (cells, blocks)")
    record: list[tuple[torch.Tensor, torch.Tensor]] = []

    def keep(_mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        record.append((inp[0], out))

    yield blocks, keep, True
    gen = torch.Generator(device="cpu").manual_seed(0)
    expressivity = spectral_entropies([record[0][0]] + [o for _, o in record])
    crosses = []
    for inp, out in reversed(record):
        if inp.grad_fn is None or not out.requires_grad:  # the raw batch (a leaf) has no block behind it
            continue
        g_out = (torch.randint(0, 2, out.shape, generator=gen) * 2 - 1).to(out)
        g_in = torch.autograd.grad(out, inp, g_out, retain_graph=True, allow_unused=True)[0]
        g_in = torch.zeros_like(inp) if g_in is None else g_in
        if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
            continue  # an identity block says nothing about trainability (AZ-NAS ViT code)
        crosses.append(cross_covariance(g_in.detach(), g_out))
    trainability = [t.to(probe.inputs.device) for t in trainabilities(crosses)]
    values = torch.stack([*expressivity, *trainability]).tolist()  # one transfer to the host
    return values[:len(expressivity)], values[len(expressivity):], record[0][1].dim() == 3


NTK_BLOCK = 1 << 20
"""Columns of the Jacobian converted to float64 at a time when accumulating the NTK (256 MB at 32 samples)."""


@register_artifact("ntk_eigs", needs=("weights",))
def ntk_eigs(probe: Probe, n: int) -> torch.Tensor:
    """Eigenvalues (ascending, float64) of the NTK Θ = J Jᵀ on the first ``n`` samples,
    J_i = ∂(1ᵀ f(x_i))/∂θ over the Conv/Linear weights, one train-mode forward (TE-NAS ``get_ntk_n``). The rows
    stay float32 as the reference's (half the memory of float64 rows: 11 GB less on a ViT-B at 32 samples); Θ is
    accumulated in float64 a block of :data:`NTK_BLOCK` columns at a time, since a float32 Θ (the reference's
    ``einsum('nc,mc->nm')``) loses the smallest eigenvalue of a nearly singular NTK (κ = inf on small TNB101 nets)."""
    x = probe.inputs[:n]
    weights = probe.weights
    with probe.restored(), torch.enable_grad():
        out = probe.model(x)
        rows = []
        for i in range(len(x)):
            go = torch.zeros_like(out)
            go[i] = 1
            g = torch.autograd.grad(out, weights, go, retain_graph=i < len(x) - 1, allow_unused=True)
            rows.append(torch.cat([gi.flatten() for gi in g if gi is not None]))
        j = torch.stack(rows)
    gram = torch.zeros(len(j), len(j), dtype=torch.float64, device=j.device)
    for k in range(0, j.shape[1], NTK_BLOCK):
        block = j[:, k:k + NTK_BLOCK].double()
        gram += block @ block.T
    return torch.linalg.eigvalsh(gram)


@register_artifact("first_sample_features", rides=True)
def first_sample_features(probe: Probe) -> Generator[Riding, None, list[torch.Tensor]]:
    """Per module (forward order) whose output has a spatial or token axis: the first sample's
    output as ``(channels, positions)`` from one train-mode forward (MeCo's hook; a rider of the shared pass)."""
    feats: list[torch.Tensor] = []

    def keep(_mod: nn.Module, _inp: object, out: object) -> None:
        if isinstance(out, torch.Tensor) and out.dim() >= 3:
            f = out[0].detach()
            # a copy, not a view: a view would keep the module's whole-batch output alive (GBs on a ViT-B)
            feats.append((f.reshape(f.shape[0], -1) if out.dim() > 3 else f.T).clone())

    yield probe.model.modules(), keep, False
    return feats


def min_corr_eigs(feats: list[torch.Tensor]) -> list[float]:
    """λ_min of the Pearson correlation of the rows of each of ``feats`` (NaN/inf entries set to 0), MeCo's
    term: one batched ``eigvalsh`` per matrix size (per-matrix results unchanged) and one transfer to the host."""
    def corr(f: torch.Tensor) -> torch.Tensor:
        c = torch.corrcoef(f.double())
        return torch.where(torch.isfinite(c), c, torch.zeros_like(c))

    lam = [e[0] for e in by_shape(torch.linalg.eigvalsh, feats, corr)]
    return torch.stack(lam).tolist() if lam else []


@register_proxy("meco", needs=("first_sample_features",))
def meco(probe: Probe) -> float:
    """Σ_modules λ_min(corrcoef(F)), F the first sample's (channels x positions) output of every module.
    Reference: Jiang et al., NeurIPS 2023 (MeCo)."""
    return sum(min_corr_eigs([f for f in first_sample_features(probe) if f.shape[0] > 1 and f.shape[1] > 1]))


@register_proxy("meco_opt", needs=("first_sample_features",),
                check=lambda p: require(p["channels"] >= 1 and p["seed"] >= 0, "channels must be >= 1 and seed >= 0"))
def meco_opt(probe: Probe, channels: int = 8, seed: int = 0) -> float:
    """Σ_modules (C/8) λ_min(corrcoef(F_S)), F_S 8 channels drawn without replacement (a fixed generator).
    Reference: Jiang et al., NeurIPS 2023 (MeCo_opt)."""
    gen = torch.Generator().manual_seed(seed)
    picked, sizes = [], []
    for f in first_sample_features(probe):
        c = f.shape[0]
        if c < channels or f.shape[1] < 2:
            continue
        picked.append(f[torch.randperm(c, generator=gen)[:channels].to(f.device)])
        sizes.append(c)
    total = 0.0
    for lam, c in zip(min_corr_eigs(picked), sizes, strict=True):
        total += lam * c / channels
    return total


@register_proxy("tenas_ntk", needs=("ntk_eigs",), version=2, check=lambda p: require(p["n_samples"] >= 2, "n_samples must be >= 2"))
def tenas_ntk(probe: Probe, n_samples: int = 32) -> float:
    """−κ, κ = λ_max/λ_min of the NTK Θ = J Jᵀ (J: per-sample ∂(1ᵀf)/∂θ); sign-flipped so that higher
    is better (TE-NAS: lower κ is better). Reference: Chen et al., ICLR 2021 (TE-NAS)."""
    lam = ntk_eigs(probe, min(n_samples, len(probe.inputs)))
    return -float(lam[-1] / lam[0]) if float(lam[0]) > 0 else -math.inf


@register_proxy("aznas_expressivity", needs=("block_terms",))
def aznas_expressivity(probe: Probe) -> float:
    """Σ_blocks H(λ/Σλ), H the entropy of the normalised eigenvalues of each block feature's channel
    covariance (isotropy). Reference: Lee & Ham, CVPR 2024 (AZ-NAS expressivity)."""
    return sum(block_terms(probe)[0])


@register_proxy("aznas_progressivity", needs=("block_terms",))
def aznas_progressivity(probe: Probe) -> float:
    """min_l (s_{l+1} − s_l) over consecutive block expressivities s (CNNs only: AZ-NAS omits it for
    ViTs, here NaN with a logged reason). Reference: Lee & Ham, CVPR 2024 (AZ-NAS progressivity)."""
    scores, _, tokens = block_terms(probe)
    if tokens:
        raise NotApplicable("progressivity is defined for CNN feature hierarchies; AZ-NAS omits it for ViTs")
    if len(scores) < 2:
        raise NotApplicable("progressivity needs at least one block")
    return min(b - a for a, b in zip(scores, scores[1:], strict=False))


@register_proxy("aznas_trainability", needs=("block_terms",))
def aznas_trainability(probe: Probe) -> float:
    """mean_blocks (−σ − 1/σ + 2), σ the spectral norm of the block Jacobian's cross-covariance for
    Rademacher output gradients (0 at σ = 1, best). Reference: Lee & Ham, CVPR 2024 (AZ-NAS trainability)."""
    terms = [t for t in block_terms(probe)[1] if not math.isnan(t)]
    if not terms:
        raise NotApplicable("no block with a gradient path from its output to its input")
    return sum(terms) / len(terms)
