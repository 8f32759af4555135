"""Zero-cost proxies: one registry, one family per file. Importing registers them all."""

from zcnas.proxies import activation, gradstats, saliency, size, spectral  # noqa: F401  (registration side effect)
from zcnas.proxies._registry import (
    NotApplicable,
    ProxySpec,
    check_params,
    get_proxy,
    list_proxies,
    register_proxy,
    score,
)

__all__ = ["NotApplicable", "ProxySpec", "check_params", "get_proxy", "list_proxies", "register_proxy", "score"]
