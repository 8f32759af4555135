"""Activation-pattern proxies: NWOT and SWAP, on any activation type (ReLU, GELU, ...).

* NASWOT: Mellor et al., "Neural Architecture Search without Training", ICML 2021,
  arXiv 2006.04647; reference ``automl/NASLib:naslib/predictors/utils/pruners/measures/nwot.py``.
* Linear regions (``tenas_lr``): Chen, Gong, Wang, ICLR 2021 (TE-NAS); reference
  ``VITA-Group/TENAS`` ``LinearRegionCount`` and AZ-NAS's ``indicators/te_nas.py``.
* SWAP: Peng et al., "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS", ICLR 2024,
  arXiv 2403.04161; reference ``pym1024/SWAP:src/metrics/swap.py``.

Deliberate deviations:
* Patterns are ``output > 0`` of every activation *module* (NASLib hooks ReLU inputs: the same
  bits for ReLU; for GELU/SiLU, ``output > 0`` iff ``input > 0``).
* SWAP: the original hooks only ReLUs with 4-D inputs, re-initialises weights N(0, 1) and averages
  32 re-inits on 16 samples; here it is one pass at the network's own init on the probe batch, all
  activation layers, 3-D token tensors included (tokens x hidden units per sample).
* reg-SWAP counts all parameters in thousands, as the reference; μ and σ are user hyperparameters
  that target a model size (defaults aim at NB201's ~0.1-1.5 M parameters; set them per space).
* Linear regions: as TE-NAS, on a *thin* copy of the architecture that the space builds (NB201:
  C=1, N=1; the stem is kept, so inputs have 3 channels) over 3,000 Gaussian 3x3 inputs. Spaces
  without a thin copy (ViTs, timm) count on the network itself over batch-size Gaussian inputs at its
  resolution (AZ-NAS's port), which saturates at the batch size. All activation types are hooked.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zcnas.probe import ACT_TYPES, Probe, depth_bins, pack_patterns, seeded
from zcnas.proxies._registry import register_artifact, register_proxy, require
from zcnas.proxies.size import n_params


def unique_patterns(codes: list[torch.Tensor]) -> torch.Tensor:
    """The distinct per-unit sample patterns ``(n, words)`` of packed codes ``(units, words)`` of one or
    more layers (one 64-bit word per 64 samples; a single word takes the faster 1-D ``unique``)."""
    allc = torch.cat(codes, 0)
    if allc.shape[1] == 1:
        return torch.unique(allc[:, 0])[:, None]
    return torch.unique(allc, dim=0)


def count_unique_patterns(codes: list[torch.Tensor]) -> int:
    """Number of distinct per-unit sample patterns across the given layers' packed codes (|A|)."""
    return len(unique_patterns(codes)) if codes else 0


@register_artifact("pattern_count", needs=("codes",))
def pattern_count(probe: Probe, lo: int, hi: int, bins: int) -> tuple[int, int]:
    """(|A|, cap) over the activation layers whose depth decile lies in [lo, hi]: the number of distinct
    per-unit sample patterns and its ceiling min(#units, 2^S) for a batch of S samples. A count at its
    cap carries no ranking information (every arch reaches it): the saturation guard reads this."""
    codes = [c for c, b in zip(probe.codes, depth_bins(len(probe.codes), bins), strict=True) if lo <= b <= hi]
    units = sum(len(c) for c in codes)
    return count_unique_patterns(codes), min(units, 2 ** len(probe.inputs))


def saturation(probe: Probe, lo: int = 0, hi: int = 10, bins: int = 10) -> bool:
    """True when the pattern count over deciles [lo, hi] reached its cap min(#units, 2^S) (see
    :func:`pattern_count`); an empty layer set is not saturated."""
    count, cap = pattern_count(probe, lo, hi, bins)
    return cap > 0 and count >= cap


@register_artifact("linear_regions")
def linear_regions(probe: Probe, n: int, size: int) -> int:
    """Distinct whole-network activation patterns (all activation layers, ``output > 0``) over N(0, 1)
    inputs (a fixed generator), one train-mode no-grad forward: TE-NAS's ``LinearRegionCount``.

    With ``probe.thin`` (TE-NAS): ``n`` inputs of ``size x size`` pixels through the thin copy.
    Without: the network itself on as many inputs as the batch, at its resolution (AZ-NAS's port)."""
    net: nn.Module
    if probe.thin is not None:
        with seeded(0, restore=True):
            net = probe.thin().to(probe.inputs.device)
        shape: tuple[int, ...] = (n, *probe.inputs.shape[1:-2], size, size)
    else:
        net, shape = probe.model, tuple(probe.inputs.shape)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(probe.inputs)
    codes: list[torch.Tensor] = []

    def on_act(_mod: nn.Module, _inp: object, out: torch.Tensor) -> None:
        codes.append(pack_patterns((out > 0).reshape(len(out), -1).T))  # (n, words): one row a sample

    with probe.hooks(probe.modules_of(ACT_TYPES, net), on_act), probe.restored(net), torch.no_grad():
        net(x)
    return int(torch.unique(torch.cat(codes, 1), dim=0).shape[0]) if codes else 1


@register_proxy("nwot", needs=("acts",))
def nwot(probe: Probe) -> float:
    """log|det K|, K = Σ_layers c cᵀ + (1−c)(1−c)ᵀ over binary codes c. Reference: Mellor+ ICML'21."""
    s = probe.inputs.shape[0]
    k = torch.zeros(s, s, dtype=torch.float64, device=probe.inputs.device)
    for pattern in probe.acts:  # c cᵀ + (1−c)(1−c)ᵀ = 2 c cᵀ − r_i − r_j + units, r = row sums
        c = pattern.float()
        r = c.sum(1)
        k += (2 * (c @ c.T) - r[:, None] - r[None, :] + c.shape[1]).double()
    return float(torch.linalg.slogdet(k)[1])


@register_proxy("swap", needs=("pattern_count",), saturates=lambda probe, _p: saturation(probe))
def swap(probe: Probe) -> float:
    """Ψ = |{distinct sample patterns 1[a_v > 0] over units v}|, all layers. Reference: Peng+ ICLR'24."""
    return float(pattern_count(probe, 0, 10, 10)[0])


@register_proxy("reg_swap", needs=("pattern_count", "n_params"), saturates=lambda probe, _p: saturation(probe), check=lambda p: require(p["sigma"] > 0, f"sigma={p['sigma']} must be > 0"))
def reg_swap(probe: Probe, mu: float = 1000.0, sigma: float = 1.0e6) -> float:
    """Ψ · exp(−(Θ_p − μ)²/σ), Ψ the SWAP score and Θ_p the parameter count in thousands.
    Reference: Peng et al., ICLR 2024 (regularised SWAP)."""
    return swap(probe) * math.exp(-((n_params(probe) / 1e3 - mu) ** 2) / sigma)


@register_proxy("tenas_lr", needs=("linear_regions",),
                check=lambda p: require(min(p["n_samples"], p["size"]) >= 1, "n_samples and size must be >= 1"))
def tenas_lr(probe: Probe, n_samples: int = 3000, size: int = 3) -> float:
    """#distinct whole-network activation patterns over ``n_samples`` N(0, 1) ``size``² inputs through
    the space's thin copy (linear regions). Reference: Chen et al., ICLR 2021 (TE-NAS)."""
    return float(linear_regions(probe, n_samples, size))
