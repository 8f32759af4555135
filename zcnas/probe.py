"""The shared probe: the engine that runs hooked passes over one batch, and the artifacts proxies read.

A :class:`Probe` wraps an untrained network and one batch. Every artifact is computed lazily, once, and
kept in one cache (``Probe._cache``, keyed by name and arguments), so proxies that share an artifact
share the pass that produced it. :meth:`Probe.plan` is told the artifacts the coming proxies need
(:func:`zcnas.proxies.score` calls it with their ``needs``), so one full-batch pass serves all of them.

Engine artifacts, served by the shared passes (this file):

* :attr:`Probe.acts`: per activation module (ReLU, GELU, ... found by *type*, so any ``nn.Module``
  works), the binary pattern ``output > 0`` as a bool ``(S, units)`` tensor, in forward order, from
  one forward of the whole batch (or, with ``share_passes``, from the sub-batch gradient passes).
* :attr:`Probe.codes`: the same patterns packed into int64 codes, one bit per sample.
* :attr:`Probe.layers` / :attr:`Probe.weights`: the weight-bearing ``Conv``/``Linear`` modules in
  forward order, and their weights.
* :meth:`Probe.grads`: per layer, the weight gradients of each of ``n_splits`` sub-batches
  (``zero_grad`` between them), stacked ``(n_splits, numel)``; :attr:`Probe.full_grads` = ``grads(1)``.
* :attr:`Probe.input_grad` (input Jacobian rows), :attr:`Probe.hessian_grad` (``H g``),
  :attr:`Probe.layer_fisher`.

Family artifacts (``synflow_terms``, ``block_terms``, ...) are declared next to the proxies that read them, with
:func:`zcnas.proxies.register_artifact`, and read by calling them (``synflow_terms(probe)``, ``ntk_eigs(probe, 32)``):
each is computed once per argument tuple and kept in the same cache (:meth:`Probe.artifact`). They run their
passes through :meth:`Probe.restored` (the one restore path) and hook modules with :meth:`Probe.hooks`; the
registry folds what they read (their ``needs``) into :meth:`Probe.plan`, so the shared full-batch pass serves them
too. A family artifact read from one train-mode forward of the batch (MeCo's features, AZ-NAS's block terms) is a
:data:`Rider`: it rides on the shared full-batch pass when that pass runs anyway, instead of a forward of its own
(:meth:`Probe.ridden`). This engine knows nothing of them: it imports no proxy module.

Depth percentiles (L-SWAG, Casarin et al., CVPR 2025, arXiv 2505.07300, Eq. 6): layer ``l`` of ``D``
(1-based) falls in bucket ``int((l / D) * 100 // (100 / bins))``, buckets ``0..bins``.

The probe leaves the model as it found it: weights are never written, BatchNorm running
statistics are restored after every pass, ``.grad`` is cleared and the train/eval mode restored.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ACT_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Hardswish, nn.Mish)
WEIGHT_TYPES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
Hook = Callable[[nn.Module, Any, Any], None]
Riding = tuple[Iterable[nn.Module], Hook, bool]
"""What a :data:`Rider` yields: the modules to hook during the forward, the hook, whether autograd is on."""
Rider = Callable[["Probe"], Generator[Riding, None, Any]]
"""A family artifact computed from one train-mode forward of the whole batch: a generator that yields ``(modules,
hook, grad)`` (hook these during the forward, with autograd on if ``grad``) and, resumed after the forward with its
graph alive, returns the artifact. The same forward's outputs in every pass, so the shared pass can serve it."""


def pack_patterns(pattern: torch.Tensor) -> torch.Tensor:
    """Pack a bool ``(S, units)`` pattern into int64 codes ``(units, ceil(S/64))``, one bit a sample.

    Each 32-sample half-word is an exact float64 dot product with powers of two (a BLAS call, ~4x
    faster than shifting and summing int64 bits)."""
    s, units = pattern.shape
    weights = 2.0 ** torch.arange(32, dtype=torch.float64, device=pattern.device)
    words = []
    for start in range(0, s, 64):
        halves = [(weights[:len(h)] @ h.to(torch.float64)).to(torch.int64) if len(h) else
                  torch.zeros(units, dtype=torch.int64, device=pattern.device)
                  for h in (pattern[start:start + 32], pattern[start + 32:start + 64])]
        words.append(halves[0] | (halves[1] << 32))
    return torch.stack(words, 1)


def by_shape(fn: Callable[[torch.Tensor], torch.Tensor], items: list[Any],
             make: Callable[[Any], torch.Tensor] = lambda m: m, budget: int = 1 << 27) -> list[torch.Tensor]:
    """``fn(make(item))`` for each of ``items``, batched: the matrices ``make`` builds are grouped by shape and
    stacked at most ``budget`` bytes at a time (built only then: a ViT-B's 3,072 x 3,072 correlations are not all
    held at once), ``fn`` called once per stack. A batched LAPACK call gives every matrix the bits of its own call
    (checked for ``eigvalsh`` and the spectral and nuclear norms)."""
    out: list[torch.Tensor] = []
    groups: dict[tuple[int, ...], list[int]] = {}

    def reduce(idx: list[int]) -> None:
        for j, r in zip(idx, fn(torch.stack([out[i] for i in idx])), strict=True):
            out[j] = r

    for item in items:
        out.append(make(item))
        idx = groups.setdefault(tuple(out[-1].shape), [])
        idx.append(len(out) - 1)
        if len(idx) * out[-1].numel() * out[-1].element_size() >= budget:  # a full stack: keep only fn's results
            reduce(idx)
            idx.clear()
    for idx in groups.values():
        if idx:
            reduce(idx)
    return out


def block_modules(model: nn.Module) -> list[nn.Module]:
    """The network's blocks: children of the innermost ``nn.Sequential`` containers whose children are
    all composite modules (NB201 cells, ViT blocks, ResNet/ConvNeXt blocks), in definition order."""

    def is_container(m: nn.Module) -> bool:
        return isinstance(m, nn.Sequential) and len(m) >= 1 and all(next(c.children(), None) is not None for c in m)

    containers = [m for m in model.modules() if is_container(m)]
    inner = [c for c in containers if not any(is_container(d) for d in c.modules() if d is not c)]
    return [b for c in inner for b in c.children()]


_RNG_LOCK = threading.Lock()


def arch_seed(seed: int, arch: str) -> int:
    """Init seed of one architecture: ``crc32("<seed>:<arch string>")``, so it depends on (seed, arch)
    only, not on sampling order."""
    return zlib.crc32(f"{seed}:{arch}".encode())


@contextmanager
def seeded(seed: int, restore: bool = False) -> Iterator[None]:
    """The global torch RNG seeded with ``seed`` while this thread holds a lock, so architectures built
    in several threads (``engine.in_flight``) get the same weights as one at a time; ``restore`` puts
    the RNG state back afterwards."""
    with _RNG_LOCK, (torch.random.fork_rng(devices=[]) if restore else nullcontext()):
        torch.manual_seed(seed)
        yield


FULL_PASS = ("acts", "full_grads", "layer_fisher", "hessian_grad", "input_grad")
"""Artifacts one full-batch train-mode pass can serve together (:meth:`Probe._full_pass`)."""
ENGINE_NEEDS: dict[str, tuple[str, ...]] = {
    **{a: () for a in FULL_PASS}, "codes": ("acts",), "layers": (), "weights": (), "grads": ()}
"""Artifacts the probe's own passes serve, and the engine artifacts each is derived from (``codes`` packs ``acts``);
every other name is a registered family artifact (:mod:`zcnas.proxies`)."""
ENGINE_ARTIFACTS = frozenset(ENGINE_NEEDS)


class _Started:
    """A :data:`Rider` started for the shared pass: its modules, its hook (a hook that raises marks it failed
    instead of ending the pass) and whether it needs autograd; ``failed`` also when it raised before yielding."""

    def __init__(self, rider: Rider, probe: Probe) -> None:
        self.ride, self.modules, self.grad, self.failed = rider(probe), [], False, False
        try:
            modules, self._hook, self.grad = next(self.ride)
            self.modules = list(modules)
        except torch.OutOfMemoryError:
            raise
        except Exception:  # noqa: BLE001 - computed alone when read, where the error reaches its proxy
            self.failed = True

    def hook(self, mod: nn.Module, inp: Any, out: Any) -> None:
        if self.failed:
            return
        try:
            self._hook(mod, inp, out)
        except torch.OutOfMemoryError:
            raise
        except Exception:  # noqa: BLE001 - computed alone when read, where the error reaches its proxy
            self.failed = True


def _finish(ride: Generator[Any, None, Any]) -> Any:
    """Resume a :data:`Rider` after its forward: the artifact it returns."""
    try:
        next(ride)
    except StopIteration as done:
        return done.value
    raise RuntimeError("a rider yields once: (modules, hook, grad), then returns its artifact")


def fisher_term(a: torch.Tensor | None, grad: torch.Tensor | None) -> torch.Tensor:
    """Σ_channels ½ mean_n (Σ_spatial a ⊙ ∂L/∂a)² of one layer output ``a`` (square, then mean over
    samples, as foresight's ``g_nk.pow(2).mean(0).mul(0.5)``; Theis et al. 2018); 0 without a gradient.
    A 0-d float64 tensor on the layer's device (the host reads every layer's at once)."""
    if a is None or grad is None:
        return torch.zeros((), dtype=torch.float64)
    prod = (a.detach() * grad.detach())  # (N, C), (N, tokens, C) or (N, C, *spatial)
    per = prod.sum(1) if prod.dim() == 3 else prod.flatten(2).sum(2) if prod.dim() > 3 else prod
    return (0.5 * (per ** 2).mean(0)).sum().double()


def depth_bins(n_layers: int, bins: int = 10) -> list[int]:
    """Depth bucket of each of ``n_layers`` layers: ``int((l/D)*100 // (100/bins))``, l = 1..D."""
    return [int((i / n_layers) * 100 // (100 / bins)) for i in range(1, n_layers + 1)]


class Probe:
    """Lazily computed, cached artifacts of one network on one batch.

    Args:
        model: an untrained network (any ``nn.Module``).
        inputs: the batch, ``(S, ...)``.
        targets: labels (or regression targets) for ``loss_fn``.
        loss_fn: task loss used for gradient artifacts (cross-entropy by default).
        share_passes: take :attr:`acts` from the sub-batch passes of ``grads(share_splits)``
            instead of a separate full-batch forward, so a proxy set needing both costs one set of
            passes. Exact for per-sample normalisation (LayerNorm ViTs); with BatchNorm in train
            mode each sub-batch is normalised with its own statistics.
        share_splits: the sub-batch count those shared passes use.
        thin: builds a thin copy of the same architecture (NB201: C=1, N=1), used by the
            ``linear_regions`` artifact as TE-NAS does; built once, under a fixed seed.

    Family artifacts are read by calling their functions (``block_terms(probe)``, ``ntk_eigs(probe, 32)``).
    """

    def __init__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
                 share_passes: bool = False, share_splits: int = 2,
                 thin: Callable[[], nn.Module] | None = None):
        self.model = model
        self.inputs = inputs
        self.targets = targets
        self.loss_fn = loss_fn
        self.share_passes = share_passes
        self.share_splits = share_splits
        self.thin = thin
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._planned: set[str] = set()
        self._riders: dict[str, Rider] = {}

    # ------------------------------------------------------------------ engine
    @contextmanager
    def restored(self, net: nn.Module | None = None, train: bool = True) -> Iterator[None]:
        """The one restore path of every pass: ``net`` (default the probed model) in train (or eval)
        mode while inside; then its buffers (BatchNorm running statistics), ``.grad`` and mode put back."""
        net = self.model if net is None else net
        was_training = net.training
        saved = [(b, b.detach().clone()) for b in net.buffers()]
        net.train(train)
        try:
            yield
        finally:
            with torch.no_grad():
                for buf, old in saved:
                    buf.copy_(old)
            net.zero_grad(set_to_none=True)
            net.train(was_training)

    @staticmethod
    @contextmanager
    def hooks(modules: Iterable[nn.Module], hook: Hook) -> Iterator[None]:
        """Forward hook ``hook(module, inputs, output)`` on each of ``modules`` while inside; removed on
        exit, also on error."""
        handles = [m.register_forward_hook(hook) for m in modules]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def modules_of(self, types: tuple[type[nn.Module], ...], net: nn.Module | None = None) -> list[nn.Module]:
        """The modules of ``net`` (default the probed model) that are instances of ``types``."""
        return [m for m in (self.model if net is None else net).modules() if isinstance(m, types)]

    def plan(self, needs: Iterable[str], riders: Mapping[str, Rider] | None = None) -> None:
        """Declare the artifacts the coming proxies will read, closed over what they read in turn
        (:func:`zcnas.proxies.closure`, called by :func:`zcnas.proxies.score`), so one full-batch pass serves
        all of :data:`FULL_PASS` that are wanted, and the planned ``riders`` (:data:`Rider`) with it."""
        self._planned |= set(needs)
        self._riders |= dict(riders or {})

    @staticmethod
    def derived(names: set[str]) -> set[str]:
        """The engine artifacts derived from ``names`` alone (:data:`ENGINE_NEEDS`: ``codes`` from ``acts``)."""
        return {d for d, src in ENGINE_NEEDS.items() if src and set(src) <= names}

    def release(self, names: Iterable[str]) -> None:
        """Drop the cached artifacts ``names`` (with what is derived from them; never ``layers``/``weights``) and
        their plan: their memory is freed once no coming proxy reads them (read again, they are recomputed)."""
        drop = set(names)
        drop |= self.derived(drop)
        drop -= {"layers", "weights"}
        self._planned -= drop
        for key in [k for k in self._cache if k[0] in drop]:
            del self._cache[key]

    def keep_only(self, names: set[str]) -> None:
        """:meth:`release` every cached artifact but ``names`` (and what is derived from them)."""
        self.release({key[0] for key in self._cache} - names - self.derived(names))

    def artifact(self, key: tuple[Any, ...], compute: Callable[[Probe], Any]) -> Any:
        """The family artifact ``key = (name, *args)``: ``compute(self)`` on first read, then cached (what a function
        decorated with :func:`zcnas.proxies.register_artifact` calls)."""
        if key not in self._cache:
            self._cache[key] = compute(self)
        return self._cache[key]

    def ridden(self, name: str, rider: Rider) -> Any:
        """The family artifact ``name`` of ``rider`` (:data:`Rider`), once: from the shared full-batch pass when it
        is planned and that pass is still to run (its forward serves both), else from a forward of its own."""
        if not self._has(name) and name in self._planned and name in self._riders and self._full_pass_pending():
            self._full_pass(set())
        if not self._has(name):  # not planned, no shared pass to come, or it failed there: alone, errors raised
            ride = rider(self)
            modules, hook, grad = next(ride)
            with self.hooks(modules, hook), self.restored(), torch.set_grad_enabled(grad):
                self.model(self.inputs)
                self._cache[name,] = _finish(ride)
        return self._cache[name,]

    def _full_pass_pending(self) -> bool:
        """Whether a planned artifact of the shared full-batch pass is not computed yet (the pass will run)."""
        todo = {a for a in self._planned & set(FULL_PASS) if not self._has(a)}
        if self.share_passes and self.share_splits > 1:
            todo.discard("acts")
        return bool(todo)

    def _stochastic(self) -> bool:
        """Whether a forward draws random numbers (dropout, drop path): then two forwards differ and a rider
        keeps its own forward, as before riders."""
        return any((isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0)
                   or float(getattr(m, "drop_prob", 0.0) or 0.0) > 0 for m in self.model.modules())

    def _has(self, name: str) -> bool:
        return (name,) in self._cache

    def _passes(self, n_chunks: int) -> list[torch.Tensor]:
        """Forward+backward over ``n_chunks`` sub-batches: per-layer stacked weight grads; with
        ``share_passes``, also the activation patterns (concatenated over chunks)."""
        order: dict[nn.Module, None] = {}
        chunks: list[list[torch.Tensor]] = []

        def on_act(_mod: nn.Module, _inp: object, out: torch.Tensor) -> None:
            chunks[-1].append((out.detach() > 0).reshape(out.shape[0], -1))

        want_acts = not self._has("acts") and self.share_passes
        per_split: list[list[torch.Tensor]] = []
        with (self.hooks(self.modules_of(WEIGHT_TYPES), lambda mod, _i, _o: order.setdefault(mod, None)),
              self.hooks(self.modules_of(ACT_TYPES) if want_acts else [], on_act),
              self.restored(), torch.enable_grad()):
            for xs, ys in zip(self.inputs.chunk(n_chunks), self.targets.chunk(n_chunks), strict=True):
                chunks.append([])
                self.model.zero_grad(set_to_none=True)
                self.loss_fn(self.model(xs), ys).backward()
                if not per_split:
                    per_split = [[] for _ in order]
                for store, mod in zip(per_split, order, strict=True):
                    w: torch.Tensor = mod.weight  # type: ignore[assignment]  # Conv/Linear weights
                    g = w.grad
                    store.append((g if g is not None else torch.zeros_like(w)).detach().flatten().clone())
        self._set_layers(order)
        if want_acts:
            self._cache["acts",] = [torch.cat(per_layer) for per_layer in zip(*chunks, strict=True)]
        return [torch.stack(s) for s in per_split]

    def _set_layers(self, order: dict[nn.Module, None]) -> None:
        if not self._has("layers"):
            names = {m: n for n, m in self.model.named_modules()}
            self._cache["layers",] = [(names[m], m) for m in order]

    def _full_pass(self, wanted: set[str]) -> None:
        """One train-mode forward of the whole batch that serves every artifact of :data:`FULL_PASS`
        wanted now or planned and not yet computed: activation patterns (hooks), the loss gradient
        w.r.t. the weights (``grads(1)``) and the Conv/Linear outputs (Fisher) in one backward —
        built differentiable when ``H g`` is wanted, then ``H g`` by a second backward — and the
        input gradient of Σ f(x) by a backward of its own. Planned :data:`Rider` artifacts hook the same forward
        and finish right after it (not with double backprop, whose plain-formula attention would change their
        forward on ViTs, nor on stochastic networks); one that fails here is computed alone when read."""
        from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415

        todo = {a for a in (wanted | self._planned) & set(FULL_PASS) if not self._has(a)}
        if self.share_passes and self.share_splits > 1:
            todo.discard("acts")
        order: dict[nn.Module, None] = {}
        outs: dict[nn.Module, torch.Tensor] = {}
        patterns: list[torch.Tensor] = []

        def on_weight(mod: nn.Module, _inp: object, out: torch.Tensor) -> None:
            order.setdefault(mod, None)
            if "layer_fisher" in todo and out.requires_grad:
                outs[mod] = out  # the last call's output, as foresight's ``layer.act``

        def on_act(_mod: nn.Module, _inp: object, out: torch.Tensor) -> None:
            patterns.append((out.detach() > 0).reshape(out.shape[0], -1))

        double = "hessian_grad" in todo
        riding = {} if double or self._stochastic() else {
            name: _Started(rider, self) for name, rider in self._riders.items() if name in self._planned
            and not self._has(name)}
        backward = bool(todo - {"acts"}) or any(r.grad for r in riding.values())
        x = self.inputs.detach().clone().requires_grad_("input_grad" in todo)
        rider_hooks = ExitStack()
        for r in riding.values():
            rider_hooks.enter_context(self.hooks(r.modules, r.hook))
        with (rider_hooks, self.hooks(self.modules_of(WEIGHT_TYPES), on_weight),
              self.hooks(self.modules_of(ACT_TYPES) if "acts" in todo else [], on_act),
              self.restored(), torch.set_grad_enabled(backward),
              sdpa_kernel(SDPBackend.MATH) if double else nullcontext()):  # fused attention has no double backward
            out = self.model(x)
            self._set_layers(order)
            for name, r in riding.items():  # before the backward passes below free the graph
                if r.failed:
                    continue
                try:
                    with torch.set_grad_enabled(r.grad):
                        self._cache[name,] = _finish(r.ride)
                except torch.OutOfMemoryError:
                    raise
                except Exception:  # noqa: BLE001 - computed alone when read, where the error reaches its proxy
                    pass
            weights = self.weights
            if todo & {"full_grads", "layer_fisher", "hessian_grad"}:
                mods = [m for _, m in self.layers if m in outs]
                loss = self.loss_fn(out, self.targets)
                g = torch.autograd.grad(loss, [*weights, *(outs[m] for m in mods)], create_graph=double,
                                        retain_graph=True, allow_unused=True, materialize_grads=True)
                gw = g[:len(weights)]  # unused weights get zeros
                self._cache["full_grads",] = [gi.detach().flatten().clone()[None] for gi in gw]
                if "layer_fisher" in todo:
                    ga = dict(zip(mods, g[len(weights):], strict=True))
                    terms = [fisher_term(outs.get(m), ga.get(m)).to(x.device) for _, m in self.layers]
                    self._cache["layer_fisher",] = torch.stack(terms).tolist() if terms else []  # one transfer
                if double:  # H g = ∂(g · stopgrad(g))/∂θ
                    z = torch.stack([(gi * gi.detach()).sum() for gi in gw]).sum()
                    hg = torch.autograd.grad(z, weights, retain_graph=True, allow_unused=True, materialize_grads=True)
                    self._cache["hessian_grad",] = [h.detach().flatten() for h in hg]
            if "input_grad" in todo:
                self._cache["input_grad",] = torch.autograd.grad(out.sum(), x)[0].detach().reshape(len(x), -1)
        if "acts" in todo:
            self._cache["acts",] = patterns

    def _shared(self, name: str, also: frozenset[str] = frozenset()) -> Any:
        """Engine artifact ``name`` of :data:`FULL_PASS`, from the shared full-batch pass (with ``also``)."""
        if not self._has(name):
            self._full_pass({name, *also})
        return self._cache[name,]

    # ------------------------------------------------------------------ engine artifacts
    @property
    def acts(self) -> list[torch.Tensor]:
        """Per activation call, in forward order: bool ``(S, units)`` of ``output > 0``."""
        if not self._has("acts"):
            if self.share_passes and self.share_splits > 1:
                self.grads(self.share_splits)
            else:
                self._full_pass({"acts"})
        return self._cache["acts",]

    @property
    def codes(self) -> list[torch.Tensor]:
        """:attr:`acts` packed per layer into int64 codes ``(units, ceil(S/64))`` (one bit a sample)."""
        if not self._has("codes"):
            self._cache["codes",] = [pack_patterns(a) for a in self.acts]
        return self._cache["codes",]

    @property
    def layers(self) -> list[tuple[str, nn.Module]]:
        """Weight-bearing Conv/Linear modules ``(name, module)`` in forward (first-call) order."""
        if not self._has("layers"):
            self._full_pass(set() if self._has("acts") else {"acts"})
        return self._cache["layers",]

    @property
    def weights(self) -> list[torch.Tensor]:
        """The weight tensors of :attr:`layers` (live parameters; never written by the probe)."""
        return [m.weight for _, m in self.layers]  # type: ignore[misc]

    def grads(self, n_splits: int = 2) -> list[torch.Tensor]:
        """Per layer, weight gradients of each sub-batch: ``(n_splits, numel)`` float32.

        The batch is cut into ``n_splits`` equal chunks (``n_splits = S`` gives per-sample
        gradients); gradients are zeroed between chunks. Layers follow :attr:`layers`.
        ``n_splits = 1`` comes from the shared full-batch pass.
        """
        if not 1 <= n_splits <= len(self.inputs):
            raise ValueError(f"n_splits={n_splits} must be in [1, batch size {len(self.inputs)}]")
        if n_splits == 1:
            return self.full_grads
        if ("grads", n_splits) not in self._cache:
            self._cache["grads", n_splits] = self._passes(n_splits)
        return self._cache["grads", n_splits]

    @property
    def full_grads(self) -> list[torch.Tensor]:
        """Per layer, the whole-batch loss gradient ``(1, numel)`` (``grads(1)``, from the shared pass)."""
        return self._shared("full_grads", frozenset({"acts"}) if self.share_passes else frozenset())

    @property
    def input_grad(self) -> torch.Tensor:
        """Per-sample input gradient of the summed outputs, ``(S, numel)``: ∂(Σ f(x))/∂x (jacov, epe_nas)."""
        return self._shared("input_grad")

    @property
    def hessian_grad(self) -> list[torch.Tensor]:
        """Per layer, the Hessian-gradient product ``H g`` of the loss w.r.t. the Conv/Linear weights
        (double backprop, GraSP): ``g = ∂L/∂θ``, ``H g = ∂(g · stopgrad(g))/∂θ``; flattened."""
        return self._shared("hessian_grad")

    @property
    def layer_fisher(self) -> list[float]:
        """Per Conv/Linear layer, :func:`fisher_term` of its output, in :attr:`layers` order."""
        return self._shared("layer_fisher")
