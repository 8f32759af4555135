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
from zcnas.proxies import score

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


def probe_and_score(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, proxies: dict[str, Any],
                    probe_cfg: Any, key: str, fused: bool = True,
                    thin: Callable[[], torch.nn.Module] | None = None,
                    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> dict[str, float]:
    """Probe ``model`` on (x, y) and score ``proxies``; on out-of-memory (CPU or GPU) halve the batch
    and retry, down to 2 images, then record NaN with the reason in the log.

    ``fused``: one probe shared by all proxies (each artifact computed once); ``False``: a fresh
    probe per proxy, i.e. its own passes (the NASLib way, for comparison; same numbers). ``thin``
    builds the space's thin copy of the architecture (TE-NAS linear regions), when it has one; ``loss_fn``
    is the task's loss (``Task.loss``; cross-entropy when None)."""
    n = len(x)
    while True:
        try:
            args = (model, x[:n], y[:n])
            kw = {"share_passes": probe_cfg.share_passes, "share_splits": probe_cfg.share_splits, "thin": thin,
                  **({"loss_fn": loss_fn} if loss_fn is not None else {})}
            if fused:
                return score(Probe(*args, **kw), proxies)
            return {name: score(Probe(*args, **kw), {name: p})[name] for name, p in proxies.items()}
        except torch.OutOfMemoryError as err:
            if x.is_cuda:
                torch.cuda.empty_cache()
            if n <= 2:
                log.warning("arch %s: out of memory even with 2 images (%s) -> NaN", key, str(err).splitlines()[0])
                return dict.fromkeys(proxies, math.nan)
            log.warning("arch %s: out of memory with batch %d; retrying with %d", key, n, n // 2)
            n //= 2
