"""The shared probe: hooked passes over one batch whose artifacts every proxy reads.

A :class:`Probe` wraps an untrained network and one batch. Artifacts are computed lazily, once,
and cached, so proxies that share an artifact share the pass that produced it:

* :attr:`Probe.acts`: per activation module (ReLU, GELU, ... found by *type*, so any
  ``nn.Module`` works), the binary pattern ``output > 0`` as a bool ``(S, units)`` tensor, in
  forward order, from one no-grad forward of the whole batch.
* :attr:`Probe.layers`: the weight-bearing ``Conv``/``Linear`` modules in forward order.
* :meth:`Probe.grads`: per layer, the weight gradients of each of ``n_splits`` sub-batches
  (``zero_grad`` between them), stacked ``(n_splits, numel)``.
* :attr:`Probe.n_params`, :attr:`Probe.flops`.

Depth percentiles (L-SWAG, method.md §1.4): layer ``l`` of ``D`` (1-based) falls in bucket
``int((l / D) * 100 // (100 / bins))``, buckets ``0..bins``.

The probe leaves the model as it found it: weights are never written, BatchNorm running
statistics are restored after every pass, ``.grad`` is cleared and the train/eval mode restored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import nn

ACT_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Hardswish, nn.Mish)
WEIGHT_TYPES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def depth_bins(n_layers: int, bins: int = 10) -> list[int]:
    """Depth bucket of each of ``n_layers`` layers: ``int((l/D)*100 // (100/bins))``, l = 1..D."""
    return [int((l / n_layers) * 100 // (100 / bins)) for l in range(1, n_layers + 1)]


class Probe:
    """Lazily computed, cached artifacts of one network on one batch.

    Args:
        model: an untrained network (any ``nn.Module``).
        inputs: the batch, ``(S, ...)``.
        targets: labels (or regression targets) for ``loss_fn``.
        loss_fn: task loss used for gradient artifacts (cross-entropy by default).
    """

    def __init__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy):
        self.model = model
        self.inputs = inputs
        self.targets = targets
        self.loss_fn = loss_fn
        self._grads: dict[int, list[torch.Tensor]] = {}

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

    @cached_property
    def _forward(self) -> tuple[list[tuple[str, nn.Module]], list[torch.Tensor]]:
        """One hooked no-grad forward: weight layers in call order, activation patterns."""
        names = {m: n for n, m in self.model.named_modules()}
        order: dict[nn.Module, None] = {}
        patterns: list[torch.Tensor] = []

        def on_weight(mod: nn.Module, _inp: object, _out: object) -> None:
            order.setdefault(mod, None)

        def on_act(_mod: nn.Module, _inp: object, out: torch.Tensor) -> None:
            patterns.append((out.detach() > 0).reshape(out.shape[0], -1))

        handles = [m.register_forward_hook(on_weight) for m in self.model.modules()
                   if isinstance(m, WEIGHT_TYPES)]
        handles += [m.register_forward_hook(on_act) for m in self.model.modules()
                    if isinstance(m, ACT_TYPES)]
        try:
            with self._pass(), torch.no_grad():
                self.model(self.inputs)
        finally:
            for h in handles:
                h.remove()
        return [(names[m], m) for m in order], patterns

    # ------------------------------------------------------------------ artifacts
    @property
    def acts(self) -> list[torch.Tensor]:
        """Per activation call, in forward order: bool ``(S, units)`` of ``output > 0``."""
        return self._forward[1]

    @property
    def layers(self) -> list[tuple[str, nn.Module]]:
        """Weight-bearing Conv/Linear modules ``(name, module)`` in forward (first-call) order."""
        return self._forward[0]

    def grads(self, n_splits: int = 2) -> list[torch.Tensor]:
        """Per layer, weight gradients of each sub-batch: ``(n_splits, numel)`` float32.

        The batch is cut into ``n_splits`` equal chunks (``n_splits = S`` gives per-sample
        gradients); gradients are zeroed between chunks. Layers follow :attr:`layers`.
        """
        if n_splits not in self._grads:
            if not 1 <= n_splits <= len(self.inputs):
                raise ValueError(f"n_splits={n_splits} must be in [1, batch size {len(self.inputs)}]")
            weights = [m.weight for _, m in self.layers]
            per_split: list[list[torch.Tensor]] = [[] for _ in weights]
            with self._pass():
                for xs, ys in zip(self.inputs.chunk(n_splits), self.targets.chunk(n_splits), strict=True):
                    self.model.zero_grad(set_to_none=True)
                    self.loss_fn(self.model(xs), ys).backward()
                    for store, w in zip(per_split, weights, strict=True):
                        g = w.grad if w.grad is not None else torch.zeros_like(w)
                        store.append(g.detach().flatten().clone())
            self._grads[n_splits] = [torch.stack(s) for s in per_split]
        return self._grads[n_splits]

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
