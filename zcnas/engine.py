"""The engine ``conf/engine/`` configures: how ``zcnas.run`` probes architectures. ``engine.fused``: one
:class:`~zcnas.probe.Probe` shared by all proxies, or one per proxy (the NASLib way); ``engine.in_flight``:
architectures probed at once (threads; on CUDA each on its own stream). Same numbers either way; an
out-of-memory batch is halved and retried."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch

from zcnas.probe import Probe
from zcnas.proxies import check_params, get_proxy, saturated, score

log = logging.getLogger("zcnas.run")


@contextmanager
def own_stream(device: torch.device) -> Iterator[None]:
    """On CUDA, a fresh stream that first waits for the current one (the batch and the weights were
    queued there); elsewhere nothing."""
    if device.type != "cuda":
        yield
        return
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        yield


def in_order(fn: Callable[[Any], Any], items: list[Any], in_flight: int) -> Iterator[Any]:
    """``fn`` over ``items``, results in input order, at most ``in_flight`` computed at once (threads;
    1 = plain sequential map). Keeps a GPU busy with several small architectures in flight."""
    if in_flight <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        pending: deque[Future[Any]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class ProbeRecord:
    """What ``zcnas.run`` records per arch beside its scores, from the same probe (``probe_record.csv``):

    * ``saturated:<proxy>``, for every proxy that can saturate (pattern counts: swap, reg_swap, lswag's Ψ):
      1.0 when its count reached the ceiling min(#units, 2^batch), where it ranks nothing;
    * with ``deciles``, L-SWAG's per-decile terms ``lam_<d>``, ``psi_<d>``, ``log_sigma_<d>``
      (:func:`zcnas.calibrate.decile_record`, under the ``lswag`` proxy's parameters): every window of
      lswag and lswag_lambda (Table 3, the Fig. 2a sweep) follows from them without another probe.

    Its values ride in the score cache under these names (:attr:`keyed`), like scores."""

    DECILE_PARAMS = ("n_splits", "accumulate", "bins", "abs_grad", "skip")

    def __init__(self, proxies: dict[str, Any], deciles: bool) -> None:
        self.pattern = {n: check_params(n, p) for n, p in proxies.items() if get_proxy(n).saturates is not None}
        self.keyed: dict[str, dict[str, Any]] = {
            f"saturated:{n}": {**p, "_version": get_proxy(n).version} for n, p in self.pattern.items()}
        self.deciles: dict[str, Any] | None = None
        if deciles:
            lswag = check_params("lswag", proxies.get("lswag"))
            self.deciles = {k: lswag[k] for k in self.DECILE_PARAMS}
            bins = int(self.deciles["bins"])
            self.keyed.update({f"{k}_{d}": {**self.deciles, "_record": "deciles", "_version": 1}
                               for k in ("lam", "psi", "log_sigma") for d in range(bins + 1)})
        self.columns = list(self.keyed)
        self.saturated = dict.fromkeys(self.pattern, 0)  # archs of this run whose count hit its ceiling

    def __call__(self, probe: Probe) -> dict[str, float]:
        """The record of one probed arch (read after :func:`zcnas.proxies.score` on the same probe)."""
        out = {f"saturated:{n}": v for n, v in saturated(probe, self.pattern).items()}
        if self.deciles is not None:
            from zcnas.calibrate import decile_record  # noqa: PLC0415

            try:
                out.update(decile_record(probe, **self.deciles))
            except torch.OutOfMemoryError:
                raise
            except Exception as err:  # noqa: BLE001 - a failed record is NaN, like a failed proxy
                log.warning("decile record failed: %s: %s -> NaN", type(err).__name__, err)
                out.update(dict.fromkeys([c for c in self.columns if not c.startswith("saturated:")], math.nan))
        return out

    def count(self, values: dict[str, float]) -> None:
        """Count the saturated flags of one arch's record."""
        for n in self.saturated:
            self.saturated[n] += int(values.get(f"saturated:{n}") == 1.0)


def probe_and_score(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, proxies: dict[str, Any],
                    probe_cfg: Any, key: str, fused: bool = True,
                    thin: Callable[[], torch.nn.Module] | None = None,
                    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                    record: Callable[[Probe], dict[str, float]] | None = None) -> dict[str, float]:
    """Probe ``model`` on (x, y) and score ``proxies``; on out-of-memory (CPU or GPU) halve the batch
    and retry, down to 2 images, then record NaN with the reason in the log.

    ``fused``: one probe shared by all proxies (each artifact computed once); ``False``: a fresh
    probe per proxy, i.e. its own passes (the NASLib way, for comparison; same numbers). ``thin``
    builds the space's thin copy of the architecture (TE-NAS linear regions), when it has one; ``loss_fn``
    is the task's loss (``Task.loss``; cross-entropy when None); ``record`` (a :class:`ProbeRecord`) adds
    its values, read from the same probe."""
    n = len(x)
    while True:
        try:
            args = (model, x[:n], y[:n])
            kw = {"share_passes": probe_cfg.share_passes, "share_splits": probe_cfg.share_splits, "thin": thin,
                  **({"loss_fn": loss_fn} if loss_fn is not None else {})}
            if fused:
                probe = Probe(*args, **kw)
                scores = score(probe, proxies)
            else:
                scores = {name: score(Probe(*args, **kw), {name: p})[name] for name, p in proxies.items()}
                probe = Probe(*args, **kw)
            return {**scores, **(record(probe) if record is not None else {})}
        except torch.OutOfMemoryError as err:
            if x.is_cuda:
                torch.cuda.empty_cache()
            if n <= 2:
                log.warning("arch %s: out of memory even with 2 images (%s) -> NaN", key, str(err).splitlines()[0])
                return dict.fromkeys([*proxies, *(getattr(record, "columns", []))], math.nan)
            log.warning("arch %s: out of memory with batch %d; retrying with %d", key, n, n // 2)
            n //= 2
