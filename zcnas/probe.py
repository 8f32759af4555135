"""The shared probe: hooked passes over one batch whose artifacts every proxy reads.

A :class:`Probe` wraps an untrained network and one batch. Artifacts are computed lazily, once,
and cached, so proxies that share an artifact share the pass that produced it:

* :attr:`Probe.acts`: per activation module (ReLU, GELU, ... found by *type*, so any
  ``nn.Module`` works), the binary pattern ``output > 0`` as a bool ``(S, units)`` tensor, in
  forward order, from one no-grad forward of the whole batch (or, with ``share_passes``, from
  the sub-batch passes that also give the gradients).
* :attr:`Probe.codes`: the same patterns packed into int64 codes, one bit per sample.
* :attr:`Probe.layers`: the weight-bearing ``Conv``/``Linear`` modules in forward order.
* :meth:`Probe.grads`: per layer, the weight gradients of each of ``n_splits`` sub-batches
  (``zero_grad`` between them), stacked ``(n_splits, numel)``.
* :attr:`Probe.input_grad` (input Jacobian rows), :attr:`Probe.hessian_grad` (``H g``),
  :attr:`Probe.layer_fisher`, :attr:`Probe.synflow_terms` (a float64 |θ| copy, norms removed).
* :attr:`Probe.n_params`, :attr:`Probe.flops`.
* :attr:`Probe.block_terms` (AZ-NAS per-block spectra), :meth:`Probe.ntk_eigs` (TE-NAS NTK),
  :meth:`Probe.linear_regions` (TE-NAS), :attr:`Probe.first_sample_features` (MeCo),
  :attr:`Probe.dss_terms` (TF-TAS).

Depth percentiles (L-SWAG, method.md §1.4): layer ``l`` of ``D`` (1-based) falls in bucket
``int((l / D) * 100 // (100 / bins))``, buckets ``0..bins``.

The probe leaves the model as it found it: weights are never written, BatchNorm running
statistics are restored after every pass, ``.grad`` is cleared and the train/eval mode restored.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from functools import cached_property
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ACT_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Hardswish, nn.Mish)
WEIGHT_TYPES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


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


def block_modules(model: nn.Module) -> list[nn.Module]:
    """The network's blocks: children of the innermost ``nn.Sequential`` containers whose children are
    all composite modules (NB201 cells, ViT blocks, ResNet/ConvNeXt blocks), in definition order."""

    def is_container(m: nn.Module) -> bool:
        return isinstance(m, nn.Sequential) and len(m) >= 1 and all(next(c.children(), None) is not None for c in m)

    containers = [m for m in model.modules() if is_container(m)]
    inner = [c for c in containers if not any(is_container(d) for d in c.modules() if d is not c)]
    return [b for c in inner for b in c.children()]


def channels_last_rows(f: torch.Tensor) -> torch.Tensor:
    """A feature ``(B, C, *spatial)``, ``(B, tokens, C)`` or ``(B, C)`` as rows ``(B·positions, C)``."""
    if f.dim() > 3:
        return f.flatten(2).transpose(1, 2).reshape(-1, f.shape[1])
    return f.reshape(-1, f.shape[-1])


def spectral_entropy(f: torch.Tensor) -> float:
    """Entropy −Σ p log(p + 1e-8) of the normalised eigenvalues p of the feature covariance over
    rows ``(B·positions, C)`` (AZ-NAS expressivity of one feature; 0 for a constant feature)."""
    rows = channels_last_rows(f.detach()).double()
    rows = rows - rows.mean(0, keepdim=True)
    s = torch.linalg.eigvalsh(rows.T @ rows / len(rows)).clamp_min(0)
    if float(s.sum()) == 0:
        return 0.0
    p = s / s.sum()
    return float(-(p * torch.log(p + 1e-8)).sum())


def block_trainability(g_in: torch.Tensor, g_out: torch.Tensor) -> float:
    """−σ − 1/(σ + 1e-6) + 2, σ the spectral norm of the block's cross-covariance g_inᵀ g_out / rows
    (AZ-NAS trainability; 0 is best, at σ = 1); strided CNN inputs are pixel-unshuffled first."""
    if g_in.dim() == 4 and g_in.shape[2:] != g_out.shape[2:]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    a, b = channels_last_rows(g_in).double(), channels_last_rows(g_out).double()
    if len(a) != len(b):
        return math.nan
    sigma = float(torch.linalg.matrix_norm(a.T @ b / len(b), ord=2))
    return -sigma - 1 / (sigma + 1e-6) + 2


def linearised_copy(model: nn.Module, drop_norms: bool) -> nn.Module:
    """A float64 eval-mode copy with every parameter and buffer replaced by its absolute value
    (SynFlow/DSS linearisation); ``drop_norms`` replaces BatchNorm/LayerNorm/GroupNorm by identity."""
    net = copy.deepcopy(model).double()
    norm_types = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
    for mod in list(net.modules()):
        for child_name, child in list(mod.named_children()):
            if drop_norms and isinstance(child, norm_types):
                setattr(mod, child_name, nn.Identity())
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    return net.eval()


_RNG_LOCK = threading.Lock()


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


def fisher_term(a: torch.Tensor | None, grad: torch.Tensor | None) -> float:
    """Σ_channels ½ mean_n (Σ_spatial a ⊙ ∂L/∂a)² of one layer output ``a`` (square, then mean over
    samples, as foresight's ``g_nk.pow(2).mean(0).mul(0.5)``; Theis et al. 2018); 0 without a gradient."""
    if a is None or grad is None:
        return 0.0
    prod = (a.detach() * grad.detach())  # (N, C), (N, tokens, C) or (N, C, *spatial)
    per = prod.sum(1) if prod.dim() == 3 else prod.flatten(2).sum(2) if prod.dim() > 3 else prod
    return float((0.5 * (per ** 2).mean(0)).sum())


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
        thin: builds a thin copy of the same architecture (NB201: C=1, N=1), used by
            :meth:`linear_regions` as TE-NAS does; built once, under a fixed seed.
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
        self._grads: dict[int, list[torch.Tensor]] = {}
        self._store: dict[str, Any] = {}
        self._planned: set[str] = set()
        self._ntk: dict[int, torch.Tensor] = {}
        self._regions: dict[tuple[int, int], int] = {}
        self._acts: list[torch.Tensor] | None = None
        self._layers: list[tuple[str, nn.Module]] | None = None

    # ------------------------------------------------------------------ helpers
    @contextmanager
    def _pass(self) -> Iterator[None]:
        """Train mode for the duration of a pass; buffers, grads and mode restored after."""
        was_training = self.model.training
        saved = [(b, b.detach().clone()) for b in self.model.buffers()]
        self.model.train()
        try:
            yield
        finally:
            with torch.no_grad():
                for buf, copy in saved:
                    buf.copy_(copy)
            self.model.zero_grad(set_to_none=True)
            self.model.train(was_training)

    def plan(self, needs: Iterable[str]) -> None:
        """Declare the artifacts the coming proxies will read, so that one full-batch pass serves all
        of :data:`FULL_PASS` that are wanted (called by :func:`zcnas.proxies.score`)."""
        self._planned |= {"acts" if n == "codes" else n for n in needs}

    def _passes(self, n_chunks: int) -> list[torch.Tensor]:
        """Forward+backward over ``n_chunks`` sub-batches: per-layer stacked weight grads; with
        ``share_passes``, also the activation patterns (concatenated over chunks)."""
        order: dict[nn.Module, None] = {}
        chunks: list[list[torch.Tensor]] = []

        def on_act(_mod: nn.Module, _inp: object, out: torch.Tensor) -> None:
            chunks[-1].append((out.detach() > 0).reshape(out.shape[0], -1))

        handles = [m.register_forward_hook(lambda mod, _i, _o: order.setdefault(mod, None))
                   for m in self.model.modules() if isinstance(m, WEIGHT_TYPES)]
        want_acts = self._acts is None and self.share_passes
        handles += [m.register_forward_hook(on_act) for m in self.model.modules()
                    if want_acts and isinstance(m, ACT_TYPES)]
        per_split: list[list[torch.Tensor]] = []
        try:
            with self._pass(), torch.enable_grad():
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
        finally:
            for h in handles:
                h.remove()
        self._set_layers(order)
        if want_acts:
            self._acts = [torch.cat(per_layer) for per_layer in zip(*chunks, strict=True)]
        return [torch.stack(s) for s in per_split]

    def _set_layers(self, order: dict[nn.Module, None]) -> None:
        if self._layers is None:
            names = {m: n for n, m in self.model.named_modules()}
            self._layers = [(names[m], m) for m in order]

    def _full_pass(self, wanted: set[str]) -> None:
        """One train-mode forward of the whole batch that serves every artifact of :data:`FULL_PASS`
        wanted now or planned and not yet computed: activation patterns (hooks), the loss gradient
        w.r.t. the weights (``grads(1)``) and the Conv/Linear outputs (Fisher) in one backward —
        built differentiable when ``H g`` is wanted, then ``H g`` by a second backward — and the
        input gradient of Σ f(x) by a backward of its own."""
        from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415

        todo = {a for a in (wanted | self._planned) & set(FULL_PASS) if a not in self._store}
        if self._acts is not None or (self.share_passes and self.share_splits > 1):
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

        handles = [m.register_forward_hook(on_weight) for m in self.model.modules() if isinstance(m, WEIGHT_TYPES)]
        handles += [m.register_forward_hook(on_act) for m in self.model.modules()
                    if "acts" in todo and isinstance(m, ACT_TYPES)]
        backward = bool(todo - {"acts"})
        x = self.inputs.detach().clone().requires_grad_("input_grad" in todo)
        double = "hessian_grad" in todo
        try:  # fused attention kernels have no double backward
            with self._pass(), torch.set_grad_enabled(backward), (
                    sdpa_kernel(SDPBackend.MATH) if double else nullcontext()):
                out = self.model(x)
                self._set_layers(order)
                weights = self.weights
                if todo & {"full_grads", "layer_fisher", "hessian_grad"}:
                    mods = [m for _, m in self.layers if m in outs]
                    loss = self.loss_fn(out, self.targets)
                    g = torch.autograd.grad(loss, [*weights, *(outs[m] for m in mods)], create_graph=double,
                                            retain_graph=True, allow_unused=True, materialize_grads=True)
                    gw = g[:len(weights)]  # unused weights get zeros
                    self._store["full_grads"] = [gi.detach().flatten().clone()[None] for gi in gw]
                    if "layer_fisher" in todo:
                        ga = dict(zip(mods, g[len(weights):], strict=True))
                        self._store["layer_fisher"] = [fisher_term(outs.get(m), ga.get(m)) for _, m in self.layers]
                    if double:  # H g = ∂(g · stopgrad(g))/∂θ
                        z = torch.stack([(gi * gi.detach()).sum() for gi in gw]).sum()
                        hg = torch.autograd.grad(z, weights, retain_graph=True, allow_unused=True, materialize_grads=True)
                        self._store["hessian_grad"] = [h.detach().flatten() for h in hg]
                if "input_grad" in todo:
                    self._store["input_grad"] = torch.autograd.grad(out.sum(), x)[0].detach().reshape(len(x), -1)
        finally:
            for h in handles:
                h.remove()
        if "acts" in todo:
            self._acts = patterns

    # ------------------------------------------------------------------ artifacts
    @property
    def acts(self) -> list[torch.Tensor]:
        """Per activation call, in forward order: bool ``(S, units)`` of ``output > 0``."""
        if self._acts is None:
            if self.share_passes and self.share_splits > 1:
                self.grads(self.share_splits)
            else:
                self._full_pass({"acts"})
        assert self._acts is not None
        return self._acts

    @cached_property
    def codes(self) -> list[torch.Tensor]:
        """:attr:`acts` packed per layer into int64 codes ``(units, ceil(S/64))`` (one bit a sample)."""
        return [pack_patterns(a) for a in self.acts]

    @property
    def layers(self) -> list[tuple[str, nn.Module]]:
        """Weight-bearing Conv/Linear modules ``(name, module)`` in forward (first-call) order."""
        if self._layers is None:
            self._full_pass({"acts"} if self._acts is None else set())
        assert self._layers is not None
        return self._layers

    def grads(self, n_splits: int = 2) -> list[torch.Tensor]:
        """Per layer, weight gradients of each sub-batch: ``(n_splits, numel)`` float32.

        The batch is cut into ``n_splits`` equal chunks (``n_splits = S`` gives per-sample
        gradients); gradients are zeroed between chunks. Layers follow :attr:`layers`.
        ``n_splits = 1`` comes from the shared full-batch pass.
        """
        if n_splits not in self._grads:
            if not 1 <= n_splits <= len(self.inputs):
                raise ValueError(f"n_splits={n_splits} must be in [1, batch size {len(self.inputs)}]")
            if n_splits == 1:
                self._full_pass({"full_grads", "acts"} if self.share_passes else {"full_grads"})
                self._grads[1] = self._store["full_grads"]
            else:
                self._grads[n_splits] = self._passes(n_splits)
        return self._grads[n_splits]

    @property
    def full_grads(self) -> list[torch.Tensor]:
        """Per layer, the whole-batch loss gradient ``(1, numel)`` (``grads(1)``, from the shared pass)."""
        return self.grads(1)

    @property
    def weights(self) -> list[torch.Tensor]:
        """The weight tensors of :attr:`layers` (live parameters; never written by the probe)."""
        return [m.weight for _, m in self.layers]  # type: ignore[misc]

    def _shared(self, name: str) -> Any:
        if name not in self._store:
            self._full_pass({name})
        return self._store[name]

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

    @cached_property
    def synflow_terms(self) -> list[float]:
        """Per Conv/Linear layer, Σ |θ ⊙ ∂R/∂θ| with R = 1ᵀ f(𝟙) on a float64 copy of the network
        with |θ| and normalisation layers removed (Tanaka et al. 2020; foresight ``synflow``, bn=False)."""
        net = linearised_copy(self.model, drop_norms=True)
        layers = [m for m in net.modules() if isinstance(m, WEIGHT_TYPES)]
        x = torch.ones((1, *self.inputs.shape[1:]), dtype=torch.float64, device=self.inputs.device)
        with torch.enable_grad():
            net.zero_grad(set_to_none=True)
            net(x).sum().backward()
        weights: list[torch.Tensor] = [m.weight for m in layers]  # type: ignore[misc]
        return [float((w * w.grad).detach().abs().sum()) if w.grad is not None else 0.0 for w in weights]

    @cached_property
    def zen_terms(self) -> tuple[float, float]:
        """Zen-NAS on a Gaussian re-initialised copy (Conv/Linear θ ~ N(0, 1), norm layers 1/0), train
        mode, data-free: (E_n ‖f(x) − f(x + γε)‖₁ of the pre-pooling features, Σ_BN log √mean(running
        var)), x, ε ~ N(0, I), γ = 1e-2, a fixed generator (Lin et al., ICCV 2021; ZenNAS reference)."""
        net = copy.deepcopy(self.model)
        gen = torch.Generator(device="cpu").manual_seed(0)
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, WEIGHT_TYPES):
                    w: torch.Tensor = m.weight  # type: ignore[assignment]
                    w.copy_(torch.randn(w.shape, generator=gen))
                    if isinstance(m.bias, torch.Tensor):
                        m.bias.zero_()
                elif isinstance(m, nn.modules.batchnorm._BatchNorm | nn.LayerNorm) and m.weight is not None:
                    m.weight.fill_(1.0)
                    m.bias.zero_()
        pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d | nn.AdaptiveAvgPool1d)]
        tap = pools[-1] if pools else [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
        feats: list[torch.Tensor] = []
        handle = tap.register_forward_hook(lambda _m, inp, _o: feats.append(inp[0].detach()))
        shape = self.inputs.shape
        x = torch.randn(shape, generator=gen).to(self.inputs.device)
        eps = torch.randn(shape, generator=gen).to(self.inputs.device)
        net.train()
        try:
            with torch.no_grad():
                net(x)
                net(x + 1e-2 * eps)
        finally:
            handle.remove()
        diff = (feats[0] - feats[1]).abs().reshape(shape[0], -1).sum(1).mean()
        bn = sum(math.log(math.sqrt(float(m.running_var.mean()))) for m in net.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None)
        return float(diff), float(bn)

    @cached_property
    def block_terms(self) -> tuple[list[float], list[float], bool]:
        """AZ-NAS terms over :func:`block_modules` from one train-mode forward of the batch:
        (spectral entropy of the first block's input and of every block output, in forward order;
        per block, :func:`block_trainability` of ∂(g_outᵀ out)/∂in for Rademacher g_out (a fixed
        generator), identity blocks skipped; whether the features are token sequences (ViTs))."""
        blocks = block_modules(self.model)
        if not blocks:
            raise ValueError("no blocks found: AZ-NAS needs an nn.Sequential of composite modules (cells, blocks)")
        record: list[tuple[torch.Tensor, torch.Tensor]] = []

        def keep(_mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            record.append((inp[0], out))

        handles = [b.register_forward_hook(keep) for b in blocks]
        gen = torch.Generator(device="cpu").manual_seed(0)
        try:
            with self._pass(), torch.enable_grad():
                self.model(self.inputs)
                expressivity = [spectral_entropy(f) for f in [record[0][0]] + [o for _, o in record]]
                trainability = []
                for inp, out in reversed(record):
                    if not (inp.requires_grad and out.requires_grad):
                        continue
                    g_out = (torch.randint(0, 2, out.shape, generator=gen) * 2 - 1).to(out)
                    g_in = torch.autograd.grad(out, inp, g_out, retain_graph=True, allow_unused=True)[0]
                    g_in = torch.zeros_like(inp) if g_in is None else g_in
                    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
                        continue  # an identity block says nothing about trainability (AZ-NAS ViT code)
                    trainability.append(block_trainability(g_in.detach(), g_out))
        finally:
            for h in handles:
                h.remove()
        return expressivity, trainability, record[0][1].dim() == 3

    def ntk_eigs(self, n: int) -> torch.Tensor:
        """Eigenvalues (ascending, float64) of the NTK Θ = J Jᵀ on the first ``n`` samples,
        J_i = ∂(1ᵀ f(x_i))/∂θ over the Conv/Linear weights, one train-mode forward (TE-NAS ``get_ntk_n``)."""
        if n not in self._ntk:
            x = self.inputs[:n]
            weights = self.weights
            with self._pass(), torch.enable_grad():
                out = self.model(x)
                rows = []
                for i in range(len(x)):
                    go = torch.zeros_like(out)
                    go[i] = 1
                    g = torch.autograd.grad(out, weights, go, retain_graph=i < len(x) - 1, allow_unused=True)
                    rows.append(torch.cat([gi.flatten() for gi in g if gi is not None]).double())
                j = torch.stack(rows)
            self._ntk[n] = torch.linalg.eigvalsh(j @ j.T)
        return self._ntk[n]

    def linear_regions(self, n: int, size: int) -> int:
        """Distinct whole-network activation patterns (all activation layers, ``output > 0``) over N(0, 1)
        inputs (a fixed generator), one train-mode no-grad forward: TE-NAS's ``LinearRegionCount``.

        With :attr:`thin` (TE-NAS): ``n`` inputs of ``size x size`` pixels through the thin copy.
        Without: the network itself on as many inputs as the batch, at its resolution (AZ-NAS's port)."""
        key = (n, size)
        if key not in self._regions:
            if self.thin is not None:
                with seeded(0, restore=True):
                    net = self.thin().to(self.inputs.device)
                shape: tuple[int, ...] = (n, *self.inputs.shape[1:-2], size, size)
            else:
                net, shape = self.model, tuple(self.inputs.shape)
            x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(self.inputs)
            codes: list[torch.Tensor] = []

            def on_act(_mod: nn.Module, _inp: object, out: torch.Tensor) -> None:
                codes.append(pack_patterns((out > 0).reshape(len(out), -1).T))  # (n, words): one row a sample

            handles = [m.register_forward_hook(on_act) for m in net.modules() if isinstance(m, ACT_TYPES)]
            was_training = net.training
            saved = [(b, b.detach().clone()) for b in net.buffers()]
            try:
                with torch.no_grad():
                    net.train()
                    net(x)
                    for buf, old in saved:
                        buf.copy_(old)
            finally:
                net.train(was_training)
                for h in handles:
                    h.remove()
            self._regions[key] = int(torch.unique(torch.cat(codes, 1), dim=0).shape[0]) if codes else 1
        return self._regions[key]

    @cached_property
    def first_sample_features(self) -> list[torch.Tensor]:
        """Per module (forward order) whose output has a spatial or token axis: the first sample's
        output as ``(channels, positions)`` from one train-mode no-grad forward (MeCo's hook)."""
        feats: list[torch.Tensor] = []

        def keep(_mod: nn.Module, _inp: object, out: object) -> None:
            if isinstance(out, torch.Tensor) and out.dim() >= 3:
                f = out[0].detach()
                feats.append(f.reshape(f.shape[0], -1) if out.dim() > 3 else f.T)

        handles = [m.register_forward_hook(keep) for m in self.model.modules()]
        try:
            with self._pass(), torch.no_grad():
                self.model(self.inputs)
        finally:
            for h in handles:
                h.remove()
        return feats

    @cached_property
    def dss_terms(self) -> tuple[float, float]:
        """TF-TAS on the linearised float64 copy (|θ|, norms kept, eval), R = 1ᵀ f(𝟙): (Σ over Linear
        layers inside attention modules of ‖∂R/∂W‖_* ‖W‖_*, Σ over the other Conv/Linear of |W ⊙ ∂R/∂W|)."""
        net = linearised_copy(self.model, drop_norms=False)
        attn = {m for mod in net.modules() if "attention" in type(mod).__name__.lower()
                for m in mod.modules()}
        x = torch.ones((1, *self.inputs.shape[1:]), dtype=torch.float64, device=self.inputs.device)
        with torch.enable_grad():
            net(x).sum().backward()
        msa, mlp = 0.0, 0.0
        for m in net.modules():
            weight = m.weight if isinstance(m, WEIGHT_TYPES) else None
            if not isinstance(weight, torch.Tensor) or weight.grad is None:
                continue
            w, g = weight.detach(), weight.grad
            if m in attn and isinstance(m, nn.Linear):
                msa += float(torch.linalg.matrix_norm(g, "nuc") * torch.linalg.matrix_norm(w, "nuc"))
            else:
                mlp += float((w * g).abs().sum())
        return msa, mlp

    @cached_property
    def n_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    @cached_property
    def flops(self) -> int:
        """Forward FLOPs of one sample (``torch.utils.flop_counter``; a MAC counts 2)."""
        from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

        counter = FlopCounterMode(display=False)
        with self._pass(), torch.no_grad(), counter:
            self.model.eval()
            self.model(self.inputs[:1])
        return int(counter.get_total_flops())
