"""Gradient-statistics proxies: ZiCo and L-SWAG (its Λ x Ψ product).

* ZiCo: Li et al., "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients",
  ICLR 2023, arXiv 2301.11300; reference ``SLDGroup/ZiCo:ZeroShotProxy/compute_zico.py``.
* L-SWAG: Casarin, Escalera, Lanz, "L-SWAG: Layer-Sample Wise Activation with Gradients
  information for Zero-Shot NAS on Vision Transformers", CVPR 2025, arXiv 2505.07300 (no public
  code; Eq. 1 for Λ·Ψ, Eq. 6 for the depth deciles, Eq. 7 for Ψ's layers; ZiCo's reference code
  for what the paper leaves open: the sub-batch axis, Conv/Linear weights as layers).

Both read the probe's per-split gradients: the batch is cut into ``n_splits`` sub-batches
(default 2, the NASLib/foresight port of ZiCo) and statistics run over that axis.

Deliberate choices and deviations:
* ZiCo keeps its reference-code form: std of the *signed* gradient, ``np.std`` (ddof 0), σ = 0
  entries dropped, layers whose sum is 0 skipped, and (``accumulate=True``) no ``zero_grad``
  between sub-batches, i.e. statistics over the running sums [g1, g1+g2].
* L-SWAG Λ follows the paper's formula: Var of |g| (``abs_grad``), μ dropped, σ = 0 filtered,
  gradients zeroed between sub-batches (``accumulate=False``; ``True`` gives the ZiCo quirk),
  only Conv/Linear layers whose depth decile lies in [lo, hi].
* L-SWAG Ψ counts distinct sample patterns of the activation layers whose decile (over the
  activation-layer list) lies in [psi_lo, hi]; Eq. 7 of the paper has psi_lo = 0.
* Which modules are "layers" (the paper leaves it open for ViTs): Λ's layers are the weight-bearing
  ``Conv``/``Linear`` modules in forward order (:attr:`Probe.layers`); on an AutoFormer subnet the
  patch embedding, then per block ``attn.qkv``, ``attn.proj``, ``mlp.fc1``, ``mlp.fc2``, then the
  head (4 x depth + 2 layers); on PiT also the conv embedding and, between stages, the pooling's
  grouped conv and class-token Linear. Ψ's layers are the activation modules (found by type): one
  GELU per block on both. ``skip`` (glob patterns over module names, e.g. ``["patch_embed*",
  "head"]``) drops layers from Λ's list *before* the deciles are cut, so the window's deciles then
  run over the remaining layers (``python -m zcnas.calibrate`` profiles the full list; a window
  calibrated there is meant for ``skip=[]``).
* Λ < 0 would invert the product's ranking; it is logged as a warning and kept. Λ = 0 (no layer
  in the window receives any gradient, e.g. a cell whose output is cut off by ``none`` edges)
  gives a score of 0, below every trainable network.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

import torch

from zcnas.probe import Probe, depth_bins
from zcnas.proxies._registry import register_artifact, register_proxy, require
from zcnas.proxies.activation import pattern_count, saturation

log = logging.getLogger(__name__)


def as_stats_input(g: torch.Tensor, accumulate: bool) -> torch.Tensor:
    """One layer's ``(n_splits, numel)`` gradients in float64; ``accumulate``: running sums."""
    g = g.double()
    return g.cumsum(0) if accumulate else g


def std0(g: torch.Tensor) -> torch.Tensor:
    """Population std (ddof 0) over axis 0, fast for the common 2-row case (|g0 - g1| / 2)."""
    if g.shape[0] == 2:
        return (g[0] - g[1]).abs_().mul_(0.5)
    d = g - g.mean(0)
    return d.mul_(d).mean(0).sqrt_()


def masked_sum(x: torch.Tensor, mask: torch.Tensor, compact: bool | None = None) -> torch.Tensor:
    """Σ x[mask] as a 0-d tensor: compacted (the default on CPU: the bits every committed score has), or a masked
    sum that needs no host sync (the default on CUDA, where a mask's compaction waits for the device), equal up to
    float rounding; entries outside ``mask`` may be inf or NaN."""
    return x[mask].sum() if (not x.is_cuda if compact is None else compact) else torch.where(mask, x, 0).sum()


def _sigma_pair(g: torch.Tensor, accumulate: bool, abs_grad: bool) -> torch.Tensor:
    """(log Σ_w 1/σ_w, mean_w log σ_w) of one layer's sub-batch gradients, σ = 0 dropped; (nan, nan) if none."""
    g = as_stats_input(g, accumulate)
    sigma = std0(g.abs() if abs_grad else g)
    pos = sigma > 0
    n = pos.sum()
    pair = torch.stack([masked_sum(sigma.reciprocal(), pos).log(), masked_sum(sigma.log(), pos) / n])
    return torch.where(n > 0, pair, torch.nan)


@register_artifact("sigma_terms", needs=("grads",))
def sigma_terms(probe: Probe, n_splits: int, accumulate: bool, abs_grad: bool) -> dict[int, tuple[float, float]]:
    """Per layer index, its (log Σ_w 1/σ_w, mean_w log σ_w) over the sub-batch gradients (σ = 0 dropped; nan,
    nan if none): filled by :func:`layer_sigma_terms` and shared by lswag, lswag_lambda and the decile record."""
    return {}


def layer_sigma_terms(probe: Probe, n_splits: int, accumulate: bool, abs_grad: bool,
                      layers: Sequence[int]) -> list[tuple[float, float]]:
    """:func:`sigma_terms` of ``layers``, each layer reduced once per probe; the missing ones computed on the
    gradients' device and brought to the host in one transfer."""
    store = sigma_terms(probe, n_splits, accumulate, abs_grad)
    todo = [i for i in dict.fromkeys(layers) if i not in store]
    if todo:
        grads = probe.grads(n_splits)
        values = torch.stack([_sigma_pair(grads[i], accumulate, abs_grad) for i in todo]).tolist()
        store.update((i, (a, b)) for i, (a, b) in zip(todo, values, strict=True))
    return [store[i] for i in layers]


def window_layers(probe: Probe, n_layers: int, skip: Sequence[str]) -> list[int]:
    """Indices of Λ's layers: all ``n_layers`` weight layers but those whose name matches a ``skip`` glob."""
    if not skip:
        return list(range(n_layers))
    return [i for i, (name, _) in enumerate(probe.layers) if not any(fnmatchcase(name, pat) for pat in skip)]


def lswag_lambda_term(probe: Probe, lo: int, hi: int, *, n_splits: int = 2, accumulate: bool = False,
                      abs_grad: bool = True, bins: int = 10, skip: Sequence[str] = ()) -> float:
    """Λ = Σ_{l∈[lo,hi]} log Σ_w 1/σ_w of L-SWAG (layers in depth deciles; ``skip``: name globs left out)."""
    keep = window_layers(probe, len(probe.grads(n_splits)), skip)
    window = [i for i, b in zip(keep, depth_bins(len(keep), bins), strict=True) if lo <= b <= hi]
    lam = 0.0
    for v, _ in layer_sigma_terms(probe, n_splits, accumulate, abs_grad, window):
        lam += 0.0 if v != v else v  # a layer with no nonzero σ contributes nothing
    return lam


def lswag_terms(probe: Probe, lo: int, hi: int, *, n_splits: int = 2, accumulate: bool = False,
                abs_grad: bool = True, psi_lo: int = 0, bins: int = 10,
                skip: Sequence[str] = ()) -> tuple[float, float]:
    """(Λ, Ψ) of L-SWAG for the decile window [lo, hi]; ``skip``: module-name globs left out of Λ's layers."""
    lam = lswag_lambda_term(probe, lo, hi, n_splits=n_splits, accumulate=accumulate, abs_grad=abs_grad,
                            bins=bins, skip=skip)
    return lam, float(pattern_count(probe, psi_lo, hi, bins)[0])


def _check_lswag(p: dict[str, Any]) -> None:
    require(p["bins"] >= 1, f"bins={p['bins']} must be >= 1")
    require(0 <= p["lo"] <= p["hi"] <= p["bins"],
            f"lo={p['lo']}, hi={p['hi']}: the depth window needs 0 <= lo <= hi <= bins={p['bins']}")
    require(0 <= p["psi_lo"] <= p["hi"], f"psi_lo={p['psi_lo']} must be in [0, hi={p['hi']}]")
    require(p["n_splits"] >= 2, f"n_splits={p['n_splits']} must be >= 2 (a variance over sub-batches)")


def _check_lambda(p: dict[str, Any]) -> None:
    _check_lswag({**p, "psi_lo": 0})


@register_proxy("lswag_lambda", needs=("grads", "layers", "sigma_terms"), check=_check_lambda)
def lswag_lambda(probe: Probe, lo: int = 0, hi: int = 10, n_splits: int = 2, accumulate: bool = False,
                 abs_grad: bool = True, bins: int = 10, skip: Sequence[str] = ()) -> float:
    """L-SWAG's Λ alone (no Ψ): the "no µ" rows of the paper's Table 3 ablation, with or without the
    layer window [lo, hi]. Reference: Casarin+ CVPR'25 (arXiv 2505.07300), Eq. 6 and Table 3."""
    return lswag_lambda_term(probe, lo, hi, n_splits=n_splits, accumulate=accumulate, abs_grad=abs_grad,
                             bins=bins, skip=skip)


@register_proxy("zico", needs=("grads",), check=lambda p: require(p["n_splits"] >= 2, f"n_splits={p['n_splits']} must be >= 2 (a variance over sub-batches)"))
def zico(probe: Probe, n_splits: int = 2, accumulate: bool = True) -> float:
    """Σ_l log(Σ_w E|g_w| / σ(g_w)) over Conv/Linear layers. Reference: Li+ ICLR'23 (ZiCo)."""
    sums = []
    for g in probe.grads(n_splits):
        g = as_stats_input(g, accumulate)
        std, mean_abs = std0(g), g.abs().mean(0)
        sums.append(masked_sum(mean_abs / std, std != 0))
    total = 0.0
    for s in torch.stack(sums).tolist() if sums else []:  # one transfer to the host
        if s != 0:
            total += math.log(s)
    return total


@register_proxy("lswag", needs=("grads", "pattern_count", "layers", "sigma_terms"), check=lambda p: _check_lswag(p),
                saturates=lambda probe, p: saturation(probe, p["psi_lo"], p["hi"], p["bins"]))
def lswag(probe: Probe, lo: int = 0, hi: int = 10, n_splits: int = 2, accumulate: bool = False,
          abs_grad: bool = True, psi_lo: int = 0, bins: int = 10, skip: Sequence[str] = ()) -> float:
    """Λ·Ψ, Λ = Σ_{l∈[l̂,L̂]} log Σ_w 1/√Var|g_w|, Ψ = #distinct patterns ≤ L̂. Reference: Casarin+ CVPR'25."""
    lam, psi = lswag_terms(probe, lo, hi, n_splits=n_splits, accumulate=accumulate,
                           abs_grad=abs_grad, psi_lo=psi_lo, bins=bins, skip=skip)
    if lam < 0:
        log.warning("lswag: Λ=%.4g < 0 inverts the Λ·Ψ ranking for this network", lam)
    return lam * psi
