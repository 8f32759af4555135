"""The one registry: proxy name -> pure function of a :class:`~zcnas.probe.Probe`.

Proxy names are stable keys: column names in ``scores.csv`` and suffixes of MLflow metrics.
Every proxy returns a float where higher = predicted better.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from zcnas.probe import Probe

log = logging.getLogger(__name__)
ProxyFn = Callable[..., float]


@dataclass(frozen=True)
class ProxySpec:
    """A registered proxy: its function, the probe artifacts it reads, and a version that is bumped
    when its numbers change (part of the score-cache key, so a fix is never hidden by old scores)."""

    name: str
    fn: ProxyFn
    needs: tuple[str, ...]
    version: int = 1


_REGISTRY: dict[str, ProxySpec] = {}


class NotApplicable(ValueError):
    """Raised by a proxy that does not apply to this network or task (e.g. progressivity on a ViT):
    the score is recorded as NaN and the reason logged."""


def register_proxy(name: str, needs: tuple[str, ...] = (), version: int = 1) -> Callable[[ProxyFn], ProxyFn]:
    """Decorator: register ``fn(probe, **params) -> float`` under ``name`` (duplicates raise)."""

    def wrap(fn: ProxyFn) -> ProxyFn:
        if name in _REGISTRY:
            raise ValueError(f"proxy {name!r} is registered twice")
        _REGISTRY[name] = ProxySpec(name, fn, needs, version)
        return fn

    return wrap


def list_proxies() -> list[str]:
    """Sorted names of all registered proxies."""
    return sorted(_REGISTRY)


def get_proxy(name: str) -> ProxySpec:
    """The spec of ``name``; unknown names raise a one-line error listing the valid ones."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown proxy {name!r}; valid: {', '.join(list_proxies())}")
    return _REGISTRY[name]


def score(probe: Probe, proxies: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Evaluate each ``{name: params}`` on ``probe``; failures and non-finite values give NaN.

    A proxy that raises is logged with its error and recorded as NaN: one failing proxy never
    ends the run (out-of-memory is re-raised for the caller to retry with a smaller batch). Non-finite results (inf, NaN) are also recorded as NaN and logged.
    """
    out: dict[str, float] = {}
    probe.plan(need for name in proxies for need in get_proxy(name).needs)
    for name, params in proxies.items():
        spec = get_proxy(name)
        try:
            value = float(spec.fn(probe, **dict(params or {})))
        except torch.OutOfMemoryError:
            raise  # the caller retries with a smaller batch (zcnas.run.probe_and_score)
        except NotApplicable as why:
            log.info("proxy %s does not apply: %s -> NaN", name, why)
            out[name] = math.nan
            continue
        except Exception as err:  # noqa: BLE001 - any failure of one proxy on one network is a NaN, logged
            log.warning("proxy %s failed: %s: %s -> NaN", name, type(err).__name__, err)
            value = math.nan
        if not math.isfinite(value):
            log.warning("proxy %s returned %s -> recorded as NaN", name, value)
            value = math.nan
        out[name] = value
    return out

