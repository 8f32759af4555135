"""Size baselines: #params and FLOPs.

Reference: NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022 D&B, arXiv 2210.03230),
``automl/NASLib:naslib/predictors/utils/pruners/measures`` (``params``/``flops``).

Deliberate deviations:
* FLOPs come from ``torch.utils.flop_counter`` (a multiply-add counts 2), NASLib's from a MAC
  counter; both are reported in millions, so values differ by ~2x but rank identically.
"""

import torch

from zcnas.probe import Probe
from zcnas.proxies._registry import register_artifact, register_proxy


@register_artifact("n_params")
def n_params(probe: Probe) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in probe.model.parameters() if p.requires_grad)


@register_artifact("flops")
def flops_count(probe: Probe) -> int:
    """Forward FLOPs of one sample (``torch.utils.flop_counter``; a MAC counts 2), one eval-mode pass."""
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

    counter = FlopCounterMode(display=False)
    with probe.restored(train=False), torch.no_grad(), counter:
        probe.model(probe.inputs[:1])
    return int(counter.get_total_flops())



@register_proxy("params", needs=("n_params",), seed_free=True)
def params(probe: Probe) -> float:
    """#trainable parameters in millions. Reference: NAS-Bench-Suite-Zero ``params``."""
    return n_params(probe) / 1e6


@register_proxy("flops", needs=("flops",), seed_free=True)
def flops(probe: Probe) -> float:
    """Forward MFLOPs of one sample. Reference: NAS-Bench-Suite-Zero ``flops``."""
    return flops_count(probe) / 1e6
