"""The engine ``conf/engine/`` configures: how ``zcnas.run`` probes architectures. ``engine.fused``: one
:class:`~zcnas.probe.Probe` shared by all proxies, or one per proxy (the NASLib way); ``engine.in_flight``:
architectures probed at once (threads; on CUDA each on its own stream, joined back on exit). Same numbers
either way. After an out-of-memory the arch is retried once at the full batch, alone (no other arch in
flight); a score at a reduced batch is opt-in (``engine.oom_reduce``), flagged and cached under its own key.
The numeric policy (``probe.tf32``, CUDA only) is applied by :func:`numeric_policy`."""

from __future__ import annotations

import gc
import logging
import math
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from zcnas.deciles import decile_record
from zcnas.probe import Probe, arch_seed, seeded
from zcnas.proxies import check_params, get_proxy, saturated, score

log = logging.getLogger("zcnas.run")


@contextmanager
def own_stream(device: torch.device) -> Iterator[None]:
    """On CUDA, a stream of this worker thread's own that first waits for the caller's (the batch and the
    weights were queued there) and that the caller's waits for on exit, also on error: memory the arch
    allocated on the caller's stream (its weights) is reused only after every kernel queued here ran, even
    when its last proxy made no host sync. Elsewhere nothing."""
    if device.type != "cuda":
        yield
        return
    caller = torch.cuda.current_stream(device)
    stream = _worker_stream(device)
    stream.wait_stream(caller)
    try:
        with torch.cuda.stream(stream):
            yield
    finally:
        caller.wait_stream(stream)


_STREAMS = threading.local()


def _worker_stream(device: torch.device) -> Any:
    """One reused CUDA stream per worker thread and device (a fresh stream per arch leaks handles)."""
    streams = getattr(_STREAMS, "by_device", None)
    if streams is None:
        streams = _STREAMS.by_device = {}
    if device not in streams:
        streams[device] = torch.cuda.Stream(device)
    return streams[device]


def numeric_policy(device: torch.device, tf32: bool) -> dict[str, Any]:
    """Apply zcnas's numeric policy on CUDA and return it for the records: float32 convolutions and matmuls
    in IEEE precision unless ``tf32`` (TF32 moves pre-activations by ~1e-3 relative, flipping sign patterns
    that nwot, swap and Ψ count). Elsewhere nothing to set: ``{"tf32": None}``."""
    if device.type != "cuda":
        return {"tf32": None}
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return {"tf32": tf32}


SYNC_CALLS = frozenset({"__float__", "__int__", "__bool__", "item", "tolist", "numpy", "equal", "nonzero", "masked_select",
                        "unique", "linalg_eigvalsh", "linalg_eigh", "linalg_svdvals", "linalg_svd", "linalg_matrix_norm"})
"""Tensor calls that make the host wait for the device on CUDA: a Python number or list out of a tensor, an output
whose size depends on the values (``nonzero``, masks), linear algebra that checks its LAPACK ``info``."""


class SyncCounter(TorchFunctionMode):
    """Counts the calls of :data:`SYNC_CALLS` (and indexing with a bool mask, as ``mask_index``) made while active,
    on any device: where a proxy makes the host wait for a GPU. ``with SyncCounter() as c: ...``; ``c.calls`` per
    call name, ``c.count`` in all. On CPU, zcnas compacts masks (no wait there; the bits of committed scores), so a
    CPU count includes ``mask_index`` calls that the CUDA path replaces by masked sums."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    @property
    def count(self) -> int:
        """All counted calls."""
        return sum(self.calls.values())

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        name = getattr(func, "__name__", "")
        if name in SYNC_CALLS:
            self.calls[name] += 1
        elif name == "__getitem__" and len(args) > 1 and isinstance(args[1], torch.Tensor) and args[1].dtype == torch.bool:
            self.calls["mask_index"] += 1
        return func(*args, **(kwargs or {}))


class _Exclusive:
    """Shared for ordinary probes, exclusive for an out-of-memory retry: the retry runs alone, after every
    arch in flight finished, and none starts until it is done (a readers-writer lock)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._alone = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._alone)
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._alone)
            self._alone = True
            self._cond.wait_for(lambda: self._active == 0)
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()


EXCLUSIVE = _Exclusive()
"""The engine's one lock between in-flight probes and an out-of-memory retry."""
OOM_BATCH = "_oom_batch"
"""Key of :func:`probe_and_score`'s answer when a score was made at a reduced batch (``oom_reduce``)."""


def in_order(fn: Callable[[Any], Any], items: list[Any], in_flight: int, ahead: int = 2) -> Iterator[Any]:
    """``fn`` over ``items``, results in input order, at most ``in_flight`` computed at once (threads;
    1 = plain sequential map). Keeps a GPU busy with several small architectures in flight: ``ahead`` x
    ``in_flight`` items are queued, so a worker that finishes early takes the next one while the oldest, a slow
    arch, is still running (results are only *yielded* in order)."""
    if in_flight <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        pending: deque[Future[Any]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead * in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


DECILE_NEEDS = ("grads", "sigma_terms", "codes", "layers")
"""What :func:`zcnas.deciles.decile_record` reads from a probe."""


class ProbeRecord:
    """What ``zcnas.run`` records per arch beside its scores, from the same probe (``probe_record.csv``):

    * ``saturated:<proxy>``, for every proxy that can saturate (pattern counts: swap, reg_swap, lswag's Ψ):
      1.0 when its count reached the ceiling min(#units, 2^batch), where it ranks nothing;
    * with ``deciles``, L-SWAG's per-decile terms ``lam_<d>``, ``psi_<d>``, ``log_sigma_<d>``
      (:func:`zcnas.deciles.decile_record`, under the ``lswag`` proxy's parameters): every window of
      lswag and lswag_lambda (Table 3, the Fig. 2a sweep) follows from them without another probe.

    Its values ride in the score cache under these names (:attr:`keyed`), like scores. An arch whose scores
    all come from a cache written before the guard existed is not probed again for its flags (NaN: unknown);
    asked-for decile terms it lacks are computed."""

    DECILE_PARAMS = ("n_splits", "accumulate", "bins", "abs_grad", "skip")

    def __init__(self, proxies: dict[str, Any], deciles: bool, decile_params: dict[str, Any] | None = None) -> None:
        self.pattern = {n: check_params(n, p) for n, p in proxies.items() if get_proxy(n).saturates is not None}
        self.keyed: dict[str, dict[str, Any]] = {
            f"saturated:{n}": {**p, "_version": get_proxy(n).version} for n, p in self.pattern.items()}
        self.deciles: dict[str, Any] | None = None
        if deciles:
            lswag = check_params("lswag", decile_params if decile_params is not None else proxies.get("lswag"))
            self.deciles = {k: lswag[k] for k in self.DECILE_PARAMS}
            bins = int(self.deciles["bins"])
            self.keyed.update({f"{k}_{d}": {**self.deciles, "_record": "deciles", "_version": 1}
                               for k in ("lam", "psi", "log_sigma") for d in range(bins + 1)})
        self.needs = (("pattern_count",) if self.pattern else ()) + (DECILE_NEEDS if deciles else ())
        """What the record reads from the probe after the proxies (kept for it: :func:`zcnas.proxies.score`)."""
        self.columns = list(self.keyed)
        self.deciles_keyed = [c for c in self.columns if not c.startswith("saturated:")]
        self.saturated = dict.fromkeys(self.pattern, 0)  # archs of this run whose count hit its ceiling

    def __call__(self, probe: Probe) -> dict[str, float]:
        """The record of one probed arch (read after :func:`zcnas.proxies.score` on the same probe)."""
        out = {f"saturated:{n}": v for n, v in saturated(probe, self.pattern).items()}
        if self.deciles is not None:
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


def build_and_probe(space: Any, num_classes: int, arch: Any, key: str, seed: int, x: torch.Tensor, y: torch.Tensor,
                    proxies: dict[str, Any], probe_cfg: Any, device: torch.device, *,
                    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                    fused: bool = True, record: Callable[[Probe], dict[str, float]] | None = None,
                    oom_reduce: bool = False) -> dict[str, float]:
    """The one path every zcnas command probes an architecture through: build ``arch`` with weights seeded by
    (``seed``, ``key``) alone (the same in any thread, :func:`zcnas.probe.seeded`), move it to ``device`` and
    :func:`probe_and_score` it (``record``: a :class:`ProbeRecord`). Any worker thread."""
    with seeded(arch_seed(seed, key)):  # worker threads take turns with the global RNG (build only)
        model = space.build(arch, num_classes=num_classes)
    model = model.to(device)  # the copy needs no RNG: outside the lock
    thin = (lambda: space.thin(arch, num_classes)) if hasattr(space, "thin") else None
    with own_stream(device):
        return probe_and_score(model, x, y, proxies, probe_cfg, key, fused=fused, thin=thin, loss_fn=loss_fn,
                               record=record, oom_reduce=oom_reduce)


def probe_and_score(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, proxies: dict[str, Any],
                    probe_cfg: Any, key: str, fused: bool = True,
                    thin: Callable[[], torch.nn.Module] | None = None,
                    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                    record: Callable[[Probe], dict[str, float]] | None = None,
                    oom_reduce: bool = False) -> dict[str, float]:
    """Probe ``model`` on (x, y) and score ``proxies``. After an out-of-memory (CPU or GPU) the failed
    attempt's memory is released and the arch retried once at the full batch, alone (:data:`EXCLUSIVE`); if
    that fails too, every score is NaN with the reason logged, or, with ``oom_reduce``, the batch is halved
    down to 2 images and the answer carries :data:`OOM_BATCH` = the batch used (the caller keys and flags
    it: a smaller batch is another score, never the full batch's).

    ``fused``: one probe shared by all proxies (each artifact computed once); ``False``: a fresh
    probe per proxy, i.e. its own passes (the NASLib way, for comparison; same numbers). ``thin``
    builds the space's thin copy of the architecture (TE-NAS linear regions), when it has one; ``loss_fn``
    is the task's loss (``Task.loss``; cross-entropy when None); ``record`` (a :class:`ProbeRecord`) adds
    its values, read from the same probe."""
    kw = {"share_passes": probe_cfg["share_passes"], "share_splits": probe_cfg["share_splits"], "thin": thin,
          **({"loss_fn": loss_fn} if loss_fn is not None else {})}

    def attempt(n: int) -> dict[str, float] | str:
        try:
            args = (model, x[:n], y[:n])
            if fused:  # artifacts released once no remaining proxy (nor the record) reads them
                probe = Probe(*args, **kw)
                scores = score(probe, proxies, keep=getattr(record, "needs", ()))
            else:
                scores = {name: score(Probe(*args, **kw), {name: p})[name] for name, p in proxies.items()}
                probe = Probe(*args, **kw)
            return {**scores, **(record(probe) if record is not None else {})}
        except torch.OutOfMemoryError as err:
            return str(err).splitlines()[0] if str(err) else "out of memory"

    def release() -> None:  # the failed attempt's tensors are gone with its frame: now the cache can shrink
        gc.collect()
        if x.is_cuda:
            torch.cuda.empty_cache()

    with EXCLUSIVE.shared():
        out = attempt(len(x))
    if isinstance(out, dict):
        return out
    release()
    log.warning("arch %s: out of memory (%s); retrying alone at the full batch %d", key, out, len(x))
    with EXCLUSIVE.alone():
        out = attempt(len(x))
        n = len(x)
        while isinstance(out, str) and oom_reduce and n > 2:
            release()
            n //= 2
            log.warning("arch %s: out of memory alone at batch %d; engine.oom_reduce: retrying with %d (scored and "
                        "cached as batch %d, flagged)", key, 2 * n, n, n)
            out = attempt(n)
    if isinstance(out, dict):
        return out if n == len(x) else {**out, OOM_BATCH: float(n)}
    release()
    log.warning("arch %s: out of memory even alone%s (%s) -> NaN", key, " with 2 images" if oom_reduce else
                " at the full batch (engine.oom_reduce=true scores it at a smaller batch, flagged)", out)
    return dict.fromkeys([*proxies, *(getattr(record, "columns", []))], math.nan)
