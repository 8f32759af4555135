"""Size baselines: #params and FLOPs.

Reference: NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022 D&B, arXiv 2210.03230),
``automl/NASLib:naslib/predictors/utils/pruners/measures`` (``params``/``flops``).

Deliberate deviations:
* FLOPs come from ``torch.utils.flop_counter`` (a multiply-add counts 2), NASLib's from a MAC
  counter; both are reported in millions, so values differ by ~2x but rank identically.
"""

from zcnas.probe import Probe
from zcnas.proxies._registry import register_proxy


@register_proxy("params", needs=("n_params",))
def params(probe: Probe) -> float:
    """#trainable parameters in millions. Reference: NAS-Bench-Suite-Zero ``params``."""
    return probe.n_params / 1e6


@register_proxy("flops", needs=("flops",))
def flops(probe: Probe) -> float:
    """Forward MFLOPs of one sample. Reference: NAS-Bench-Suite-Zero ``flops``."""
    return probe.flops / 1e6
