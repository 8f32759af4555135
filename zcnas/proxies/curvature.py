"""Dextr: feature conditioning times the extrinsic curvature of the output along an input circle.

Asthana, Conrad, Ortmanns, Belagiannis, "Dextr: Zero-Shot Neural Architecture Search with Singular
Value Decomposition and Extrinsic Curvature", TMLR 2025, arXiv 2508.12977; reference
``rohanasthana/Dextr``: ``NASBench201/correlation/NAS_Bench_201.py`` (``get_score``: the NB201 numbers),
``AutoFormer/lib/training_free/indicators/dextr.py`` (ViTs) and
``.../dextr_utils/no_free_lunch_architectures/length.py`` (``get_extrinsic_curvature``).

    S = log(1 + Σ_modules σ_min(F_m) / σ_max(F_m)),   K = log(1 + κ),   Dextr = S·K / (S + K)

F_m: the first sample's output of every module (``named_modules``, the root and containers included),
reshaped to (its first axis, rest); a NaN/inf ratio counts 0. κ: the curvature of the network's
output, restricted to ``n_coords`` random logits, along x(θ) = U [cos θ, sin θ] at θ = 0 (U: the left
singular vectors of a Gaussian (C·H·W) x 2 matrix, one train-mode forward of that one input):
κ = |v|⁻³ √(|v|²|a|² − (v·a)²), v = ∂out/∂θ, a = ∂²out/∂θ². Where κ is not finite (e.g. a BatchNorm
that cannot take one sample) Dextr is S, as the reference returns.

Choices where the references differ (recorded, configurable):
* the conditioning forward takes the probe batch's first image alone, in train mode: the NB201 script
  forwards one image (``--batch_size 1``); the ViT indicator the whole batch, which gives the same
  first-sample outputs on LayerNorm networks, and which zcnas uses where one image cannot pass (a
  BatchNorm over 1x1 maps: small images through a ResNet);
* ``curve_px``: the curve input's side; ``null`` = the probe images' (the ViT indicator); the NB201 script
  used 64 on 32 px images (``curve_px=64`` reproduces it);
* the random directions and logits come from a generator seeded by ``seed`` (the reference: global RNGs),
  σ in float64 (the reference: float32).
"""

from __future__ import annotations

import math

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from zcnas.probe import Probe
from zcnas.proxies._registry import register_artifact, register_proxy, require


@register_artifact("feature_conditioning")
def feature_conditioning(probe: Probe) -> float:
    """Σ_modules σ_min/σ_max of each module's first-sample output (NaN/inf -> 0), one train-mode forward
    of the probe's first image alone, or of the batch where one image cannot pass (computed inside each
    hook: in-place activations cannot alter it; the ratios come to the host in one transfer)."""
    ratios: list[torch.Tensor] = []

    def keep(_mod: torch.nn.Module, _inp: object, out: object) -> None:
        first = out[0] if isinstance(out, torch.Tensor | tuple | list) and len(out) else None
        if not isinstance(first, torch.Tensor) or first.dim() == 0:
            return
        s = torch.linalg.svdvals(first.detach().reshape(first.shape[0], -1).double())
        ratios.append(s.min() / s.max())

    with probe.hooks(probe.model.modules(), keep), probe.restored(), torch.no_grad():
        try:
            probe.model(probe.inputs[:1])
        except ValueError:  # a BatchNorm over a single value (1x1 maps): the whole batch, as the ViT indicator
            ratios.clear()
            probe.model(probe.inputs)
    values = torch.stack(ratios).tolist() if ratios else []
    return sum(r if math.isfinite(r) else 0.0 for r in values)


@register_artifact("output_curvature")
def output_curvature(probe: Probe, curve_px: int | None, n_coords: int, seed: int) -> float:
    """κ of the output (``n_coords`` random logits) along the input circle x(θ) = U[cos θ, sin θ] at θ = 0:
    |v|⁻³ √(|v|²|a|² − (v·a)²) with v, a the first and second θ-derivatives (one train-mode forward); NaN
    where the network cannot take it (e.g. BatchNorm1d on one sample: the reference's fallback)."""
    x0 = probe.inputs[:1]
    shape = (x0.shape[1], curve_px, curve_px) if curve_px else tuple(x0.shape[1:])
    gen = torch.Generator().manual_seed(seed)
    u = torch.linalg.svd(torch.randn(math.prod(shape), 2, generator=gen), full_matrices=False)[0]
    u = u.to(device=x0.device, dtype=x0.dtype)
    theta = torch.zeros(1, device=x0.device, dtype=x0.dtype, requires_grad=True)
    # attention by its plain formula: fused attention kernels have no second derivative (AutoFormer's is plain)
    vs, accs = [], []
    try:
        with probe.restored(), torch.enable_grad(), sdpa_kernel(SDPBackend.MATH):
            curve = (u @ torch.stack([torch.cos(theta), torch.sin(theta)])).T.reshape(1, *shape)
            out = probe.model(curve).reshape(1, -1)
            for c in torch.randint(out.shape[1], (n_coords,), generator=gen).tolist():
                v = torch.autograd.grad(out[:, c].sum(), theta, create_graph=True)[0]
                a = torch.autograd.grad(v.sum(), theta, retain_graph=True)[0]
                vs.append(v.detach())
                accs.append(a.detach())
    except (RuntimeError, ValueError):
        return math.nan
    v, a = torch.cat(vs).double(), torch.cat(accs).double()
    vv, aa, va = v @ v, a @ a, v @ a
    return float(vv ** -1.5 * (vv * aa - va ** 2).sqrt())


def _check(p: dict) -> None:
    require(p["n_coords"] >= 1 and p["seed"] >= 0, "n_coords must be >= 1 and seed >= 0")
    require(p["curve_px"] is None or p["curve_px"] >= 1, "curve_px must be null or >= 1")


@register_proxy("dextr", needs=("feature_conditioning", "output_curvature"), check=_check)
def dextr(probe: Probe, curve_px: int | None = None, n_coords: int = 10, seed: int = 0) -> float:
    """S·K/(S+K), S = log(1 + Σ_m σ_min/σ_max of module outputs), K = log(1 + κ) (extrinsic curvature of
    the output along an input circle); S alone where κ is not finite. Reference: Asthana et al., TMLR 2025."""
    s = math.log1p(feature_conditioning(probe))
    kappa = output_curvature(probe, curve_px, n_coords, seed)
    if not math.isfinite(kappa):
        return s
    k = math.log1p(kappa)
    return s * k / (s + k) if s + k > 0 else s
