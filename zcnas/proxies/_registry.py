"""The one registry: proxy name -> pure function of a :class:`~zcnas.probe.Probe`, and the family artifacts
proxies share (computed once per probe). It imports nothing of zcnas but the engine beneath it (:mod:`zcnas.probe`),
which in turn imports nothing of this package.

Proxy names are stable keys: column names in ``scores.csv`` and suffixes of MLflow metrics.
Every proxy returns a float where higher = predicted better.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

import torch

from zcnas.probe import ENGINE_ARTIFACTS, ENGINE_NEEDS, Probe

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
    check: Callable[[dict[str, Any]], None] | None = None
    saturates: Callable[[Probe, dict[str, Any]], bool] | None = None
    seed_free: bool = False
    """Independent of the seed, the init and the probe batch (a function of the architecture, the task's head
    and resolution): cached by arch alone and reused across seeds and runs."""
    was: tuple[str, int] | None = None
    """(name, version) its scores were cached under before a rename: read when its own are missing."""
    deprecated_for: str | None = None
    """An old name kept for a release: the proxy to use instead (a one-line warning when requested)."""


_REGISTRY: dict[str, ProxySpec] = {}


class NotApplicable(ValueError):
    """Raised by a proxy that does not apply to this network or task (e.g. progressivity on a ViT):
    the score is recorded as NaN and the reason logged."""


def register_proxy(name: str, needs: tuple[str, ...] = (), version: int = 1,
                   check: Callable[[dict[str, Any]], None] | None = None,
                   saturates: Callable[[Probe, dict[str, Any]], bool] | None = None,
                   seed_free: bool = False, was: tuple[str, int] | None = None,
                   deprecated_for: str | None = None) -> Callable[[ProxyFn], ProxyFn]:
    """Decorator: register ``fn(probe, **params) -> float`` under ``name`` (duplicates raise).
    ``check(params)`` raises ValueError for values out of range (params complete, defaults filled);
    ``saturates(probe, params)`` is True when a count-type score reached its ceiling on this probe
    (pattern counts at min(#units, 2^batch)), read by :func:`saturated`; ``seed_free``: the score depends on
    neither seed, init nor batch (#params, FLOPs), so a run reuses it from any seed's run of the same arch;
    ``was``: the (name, version) a renamed proxy's cached scores are under; ``deprecated_for``: an old name's
    successor."""

    def wrap(fn: ProxyFn) -> ProxyFn:
        if name in _REGISTRY:
            raise ValueError(f"proxy {name!r} is registered twice")
        _REGISTRY[name] = ProxySpec(name, fn, needs, version, check, saturates, seed_free, was, deprecated_for)
        return fn

    return wrap


@dataclass(frozen=True)
class ArtifactSpec:
    """A registered family artifact: its function ``fn(probe, *args)`` (a :data:`~zcnas.probe.Rider` if ``rides``)
    and the artifacts it reads (planned with it)."""

    name: str
    fn: Callable[..., Any]
    needs: tuple[str, ...]
    rides: bool = False


_ARTIFACTS: dict[str, ArtifactSpec] = {}
A = TypeVar("A", bound=Callable[..., Any])
T = TypeVar("T")


@overload
def register_artifact(name: str, needs: tuple[str, ...] = (), rides: Literal[False] = False) -> Callable[[A], A]: ...
@overload
def register_artifact(name: str, needs: tuple[str, ...] = (), *, rides: Literal[True]
                      ) -> Callable[[Callable[[Probe], Generator[Any, None, T]]], Callable[[Probe], T]]: ...
def register_artifact(name: str, needs: tuple[str, ...] = (), rides: bool = False) -> Callable[[Any], Any]:
    """Decorator: register ``fn(probe, *args) -> value`` as family artifact ``name`` (duplicates raise) and return it
    cached: ``fn(probe, *args)`` computes once per probe and argument tuple (:meth:`~zcnas.probe.Probe.artifact`);
    ``needs``: the artifacts ``fn`` reads, which :func:`score` plans into the shared pass. ``rides``: ``fn`` is a
    :data:`~zcnas.probe.Rider` (no arguments), read as ``fn(probe)``, served by the shared full-batch pass's forward
    when that pass runs (:meth:`~zcnas.probe.Probe.ridden`)."""

    def wrap(fn: Any) -> Any:
        if name in _ARTIFACTS or name in ENGINE_ARTIFACTS:
            raise ValueError(f"artifact {name!r} is registered twice")
        _ARTIFACTS[name] = ArtifactSpec(name, fn, tuple(needs), rides)

        @functools.wraps(fn)
        def read(probe: Probe, *args: Any) -> Any:
            if rides:
                return probe.ridden(name, fn)
            return probe.artifact((name, *args), lambda p: fn(p, *args))

        return read

    return wrap


def list_artifacts() -> list[str]:
    """Sorted names of every artifact a proxy may declare in ``needs`` (the engine's and the registered ones)."""
    return sorted(ENGINE_ARTIFACTS | set(_ARTIFACTS))


def closure(needs: Iterable[str]) -> set[str]:
    """``needs`` and everything they read in turn (registered artifacts' ``needs``, the engine's
    :data:`~zcnas.probe.ENGINE_NEEDS`); unknown names raise a one-line error listing the valid ones."""
    out: set[str] = set()
    todo = list(needs)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if name in ENGINE_NEEDS:
            todo += ENGINE_NEEDS[name]
        elif name in _ARTIFACTS:
            todo += _ARTIFACTS[name].needs
        else:
            raise KeyError(f"unknown probe artifact {name!r}; valid: {', '.join(list_artifacts())}")
        out.add(name)
    return out


def require(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok`` (for a proxy's ``check``)."""
    if not ok:
        raise ValueError(message)


def _is(value: Any, kind: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return True  # other annotations are the proxy's own business


def check_params(name: str, params: Mapping[str, Any] | None, batch_size: int | None = None) -> dict[str, Any]:
    """Validate ``params`` of proxy ``name`` before any work and return them with defaults filled:
    known names, types from the function's annotations (int, float, bool), ``n_splits <= batch_size``
    and the proxy's own ranges (its ``check``). Errors are one line: ``proxy.<name>.<param>=...``."""
    spec = get_proxy(name)
    if spec.deprecated_for:
        log.warning("proxy %s is deprecated: use proxy=%s (the same score; the old name goes in the next release)",
                    name, spec.deprecated_for)
    signature = list(inspect.signature(spec.fn, eval_str=True).parameters.values())[1:]
    accepted = {p.name: p for p in signature}
    given = dict(params or {})
    for key, value in given.items():
        if key not in accepted:
            raise ValueError(f"proxy.{name}.{key}: {name} has no parameter {key!r}; valid: "
                             f"{', '.join(accepted) or 'none'}")
        kind = accepted[key].annotation
        if not _is(value, kind):
            raise ValueError(f"proxy.{name}.{key}={value!r} must be {'a finite ' if kind is float else 'an ' if kind is int else 'a '}"
                             f"{getattr(kind, '__name__', kind)}")
    full = {p.name: p.default for p in signature if p.default is not inspect.Parameter.empty} | given
    if batch_size is not None and "n_splits" in full and full["n_splits"] > batch_size:
        raise ValueError(f"proxy.{name}.n_splits={full['n_splits']} exceeds batch_size={batch_size}")
    if spec.check is not None:
        try:
            spec.check(full)
        except ValueError as err:
            raise ValueError(f"proxy.{name}: {err}") from None
    return full


def list_proxies() -> list[str]:
    """Sorted names of all registered proxies."""
    return sorted(_REGISTRY)


def get_proxy(name: str) -> ProxySpec:
    """The spec of ``name``; unknown names raise a one-line error listing the valid ones."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown proxy {name!r}; valid: {', '.join(list_proxies())}")
    return _REGISTRY[name]


def score(probe: Probe, proxies: Mapping[str, Mapping[str, Any]], keep: Iterable[str] | None = None) -> dict[str, float]:
    """Evaluate each ``{name: params}`` on ``probe``; failures and non-finite values give NaN.

    A proxy that raises is logged with its error and recorded as NaN: one failing proxy never
    ends the run (out-of-memory is re-raised for the caller to retry with a smaller batch). Non-finite results
    (inf, NaN) are also recorded as NaN and logged. With ``keep`` given, every artifact is released
    (:meth:`~zcnas.probe.Probe.release`) as soon as no remaining proxy declares it, except ``keep`` (and what it
    reads): what the caller reads from the probe afterwards. Values never depend on it.
    """
    out: dict[str, float] = {}
    needs = {name: closure(get_proxy(name).needs) for name in proxies}
    planned = set().union(*needs.values())
    probe.plan(planned, {a: _ARTIFACTS[a].fn for a in planned if a in _ARTIFACTS and _ARTIFACTS[a].rides})
    left = Counter(a for name in proxies for a in needs[name])
    kept = closure(keep) if keep is not None else None
    for name, params in proxies.items():
        out[name] = _score_one(probe, name, params)
        if kept is not None:
            for a in needs[name]:
                left[a] -= 1
            probe.release(a for a in needs[name] if left[a] == 0 and a not in kept)
    if kept is not None:  # and what the shared passes made on the side (the full pass's gradients)
        probe.keep_only(kept)
    return out


def _score_one(probe: Probe, name: str, params: Mapping[str, Any] | None) -> float:
    """One proxy's score on ``probe``: NaN (logged) when it does not apply, fails or is not finite."""
    spec = get_proxy(name)
    try:
        value = float(spec.fn(probe, **dict(params or {})))
    except torch.OutOfMemoryError:
        raise  # the caller retries with a smaller batch (zcnas.engine.probe_and_score)
    except NotApplicable as why:
        log.info("proxy %s does not apply: %s -> NaN", name, why)
        return math.nan
    except Exception as err:  # noqa: BLE001 - any failure of one proxy on one network is a NaN, logged
        log.warning("proxy %s failed: %s: %s -> NaN", name, type(err).__name__, err)
        return math.nan
    if not math.isfinite(value):
        log.warning("proxy %s returned %s -> recorded as NaN", name, value)
        return math.nan
    return value


def saturated(probe: Probe, proxies: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """For each of ``proxies`` that can saturate (a pattern count: swap, reg_swap, lswag's Ψ), 1.0 when its
    count reached the ceiling min(#units, 2^batch) on this probe, else 0.0 (NaN if the check failed).
    Read after :func:`score` on the same probe: the counts are cached artifacts, so this costs nothing."""
    out: dict[str, float] = {}
    for name, params in proxies.items():
        spec = get_proxy(name)
        if spec.saturates is None:
            continue
        try:
            out[name] = float(spec.saturates(probe, check_params(name, params)))
        except torch.OutOfMemoryError:
            raise
        except Exception as err:  # noqa: BLE001 - the score itself was already recorded (NaN if it failed)
            log.warning("saturation check of %s failed: %s: %s", name, type(err).__name__, err)
            out[name] = math.nan
    return out
