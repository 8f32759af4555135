"""Zero-cost proxies: one registry, one family per file. Importing registers them all."""

from zcnas.proxies import activation, gradstats, saliency, size  # noqa: F401  (registration side effect)
from zcnas.proxies._registry import ProxySpec, get_proxy, list_proxies, register_proxy, score

__all__ = ["ProxySpec", "get_proxy", "list_proxies", "register_proxy", "score"]
