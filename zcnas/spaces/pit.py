"""PiT space (Heo et al., "Rethinking Spatial Dimensions of Vision Transformers", ICCV 2021,
arXiv 2103.16302) as Auto-Prox defines it (Wei et al., AAAI 2024; lliai/Auto-Prox-AAAI24
``pycls/models/auto/pit_subnet.py``, ``common.py``, choice sets ``PIT_SEARCH_SPACE`` of
``configs/auto/pit/pit-ti_c100_*.yaml``, sampler ``random_search_model.py:pit_configs``).

A subnet has a ``base_dim``, one ``mlp_ratio`` and, per stage (3), a ``depth`` and a head count;
stage ``s`` is ``base_dim x heads[s]`` wide. Network: a conv embedding (Conv2d 16x16, stride 8,
with bias; 224 -> 27x27 tokens) plus a learned position embedding (1, C0, 27, 27), one class
token carried through the stages, per stage ``depth[s]`` pre-norm transformer blocks (Q-K-V 3 x
width with bias, heads of width base_dim, MLP ``int(width * mlp_ratio)`` with ``nn.GELU``,
LayerNorm eps 1e-6), and between stages a conv-head pooling (depthwise-grouped Conv2d 3x3 stride 2
on the patch map, Linear on the class token), final LayerNorm on the class token, classifier on
it. Init as Auto-Prox: PyTorch defaults for Linear/Conv2d, LayerNorm (1, 0), trunc-normal(0.02)
position embedding and class token.

Choice sets (``tiny``, Auto-Prox's PiT-Ti space): base_dim {16, 24, 32, 40}, mlp_ratio {2, 4, 6, 8},
depth per stage {1, 2, 3} x {4, 6, 8} x {2, 4, 6}, heads per stage {2, 4, 8}; and two constraints
that make the valid set exactly the 10 depth and 10 head triples Auto-Prox's sampler draws from:
head counts never decrease over the stages (the grouped pooling conv needs each width to be a
multiple of the previous one) and the total depth is 12-14 (AutoFormer-Tiny's depth range).

Differences from Auto-Prox's ``PiT``, and why: drop path / dropout left out (training
regularisers; they would make the probe's train-mode passes random, shapes unchanged); the
blocks are timm's (``attn.qkv`` / ``attn.proj`` / ``mlp.fc1`` / ``mlp.fc2``, same shapes and
order as ``TransformerLayer``) held in an ``nn.Sequential`` per stage; no distillation token/head
(Auto-Prox's KD runs distil intermediate features, ``ENABLE_LOGIT`` off); Auto-Prox's sampler
also keeps only nets of 4-22 M params (rounded), a search budget, not part of the space here.

String form: ``base=40|mlp=2|depth=2,4,6|heads=2,4,8``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import product
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from zcnas.spaces.autoformer import LayerNorm6


@dataclass(frozen=True)
class PiTChoices:
    """Choice sets of one PiT space: per-gene values, per-stage depth values, and the
    allowed total depth (inclusive)."""

    base_dim: tuple[int, ...]
    mlp_ratio: tuple[float, ...]
    depth: tuple[tuple[int, ...], ...]
    heads: tuple[int, ...]
    total_depth: tuple[int, int]

    def depth_triples(self) -> list[tuple[int, ...]]:
        """Every per-stage depth tuple whose sum lies in ``total_depth``."""
        lo, hi = self.total_depth
        return [d for d in product(*self.depth) if lo <= sum(d) <= hi]

    def head_triples(self) -> list[tuple[int, ...]]:
        """Every per-stage head tuple that never decreases."""
        return [h for h in product(self.heads, repeat=len(self.depth)) if list(h) == sorted(h)]


VARIANTS: dict[str, PiTChoices] = {
    "tiny": PiTChoices((16, 24, 32, 40), (2.0, 4.0, 6.0, 8.0), ((1, 2, 3), (4, 6, 8), (2, 4, 6)), (2, 4, 8), (12, 14)),
    "test": PiTChoices((4, 8), (2.0, 4.0), ((1, 2), (1, 2), (1,)), (1, 2), (3, 5)),  # fast tests only
}


@dataclass(frozen=True)
class PiTArch:
    """One subnet: base width, MLP ratio, per-stage depth and head count."""

    base_dim: int
    mlp_ratio: float
    depth: tuple[int, ...]
    heads: tuple[int, ...]

    def __str__(self) -> str:
        return encode(self)

    def widths(self) -> list[int]:
        """Per-stage embedding width ``base_dim x heads[s]``."""
        return [self.base_dim * h for h in self.heads]


def encode(arch: PiTArch) -> str:
    """``base=B|mlp=R|depth=d1,d2,d3|heads=h1,h2,h3``."""
    return (f"base={arch.base_dim}|mlp={arch.mlp_ratio:g}|depth={','.join(map(str, arch.depth))}"
            f"|heads={','.join(map(str, arch.heads))}")


_RE = re.compile(r"^base=(\d+)\|mlp=([\d.]+)\|depth=([\d,]+)\|heads=([\d,]+)$")


def check(arch: PiTArch, choices: PiTChoices, variant: str) -> PiTArch:
    """Return ``arch`` if every gene is in the variant's choice sets; else a one-line ValueError."""
    bad, stages = [], len(choices.depth)
    if arch.base_dim not in choices.base_dim:
        bad.append(f"base_dim {arch.base_dim} not in {choices.base_dim}")
    if arch.mlp_ratio not in choices.mlp_ratio:
        bad.append(f"mlp_ratio {arch.mlp_ratio:g} not in {tuple(f'{r:g}' for r in choices.mlp_ratio)}")
    if len(arch.depth) != stages or len(arch.heads) != stages:
        bad.append(f"{len(arch.depth)} depths / {len(arch.heads)} head counts, expected {stages} stages")
    else:
        bad += [f"depth[{s}] {d} not in {choices.depth[s]}" for s, d in enumerate(arch.depth) if d not in choices.depth[s]]
        bad += [f"heads[{s}] {h} not in {choices.heads}" for s, h in enumerate(arch.heads) if h not in choices.heads]
        if not bad and not choices.total_depth[0] <= sum(arch.depth) <= choices.total_depth[1]:
            bad.append(f"total depth {sum(arch.depth)} outside {list(choices.total_depth)}; "
                       f"valid depths: {choices.depth_triples()}")
        if not bad and list(arch.heads) != sorted(arch.heads):
            bad.append(f"heads {list(arch.heads)} decrease over the stages (the pooling conv needs each width "
                       f"a multiple of the previous one); valid: {choices.head_triples()}")
    if bad:
        raise ValueError(f"PiT-{variant} arch {encode(arch)!r}: {'; '.join(bad)}")
    return arch


def token_side(img_size: int, patch: int, stride: int) -> int:
    """Side of the conv embedding's patch map: ``floor((img - patch) / stride + 1)`` (27 at 224/16/8)."""
    return math.floor((img_size - patch) / stride + 1)


def param_count(arch: PiTArch, num_classes: int, img_size: int = 224, patch: int = 16, stride: int = 8) -> int:
    """Closed-form #params of the built subnet (equals ``sum(p.numel())``)."""
    w = arch.widths()
    n = 3 * patch * patch * w[0] + w[0] + w[0] * token_side(img_size, patch, stride) ** 2 + w[0]  # conv, pos, cls
    for s, (d, c) in enumerate(zip(arch.depth, w, strict=True)):
        hidden = int(c * arch.mlp_ratio)
        n += d * (2 * c + c * 3 * c + 3 * c + c * c + c + 2 * c + c * hidden + hidden + hidden * c + c)
        if s + 1 < len(w):
            n += w[s + 1] * 9 + w[s + 1] + c * w[s + 1] + w[s + 1]  # pooling: grouped conv 3x3, cls fc
    return n + 2 * w[-1] + w[-1] * num_classes + num_classes  # final norm, head


def stage(width: int, depth: int, heads: int, mlp_ratio: float) -> nn.Sequential:
    """One PiT stage: ``depth`` transformer blocks (Auto-Prox ``TransformerLayer``, here timm's)."""
    from timm.models.vision_transformer import Block  # noqa: PLC0415

    return nn.Sequential(*(Block(width, num_heads=heads, mlp_ratio=mlp_ratio, qkv_bias=True, act_layer=nn.GELU,
                                 norm_layer=LayerNorm6) for _ in range(depth)))


class ConvHeadPooling(nn.Module):
    """PiT's pooling: grouped Conv2d (kernel stride+1, padding stride//2) on the map, Linear on the token."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=stride + 1, padding=stride // 2, stride=stride, groups=c_in)
        self.fc = nn.Linear(c_in, c_out)

    def forward(self, x: torch.Tensor, cls: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.conv(x), self.fc(cls)


class PiTNet(nn.Module):
    """A standalone Auto-Prox PiT subnet."""

    def __init__(self, arch: PiTArch, num_classes: int, img_size: int = 224, patch: int = 16, stride: int = 8):
        super().__init__()
        from timm.layers import trunc_normal_  # noqa: PLC0415

        w, side = arch.widths(), token_side(img_size, patch, stride)
        self.img_size = img_size
        self.patch_embed = nn.Conv2d(3, w[0], kernel_size=patch, stride=stride)
        self.pos_embed = nn.Parameter(torch.zeros(1, w[0], side, side))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, w[0]))
        self.stages = nn.ModuleList(stage(c, d, h, arch.mlp_ratio)
                                    for c, d, h in zip(w, arch.depth, arch.heads, strict=True))
        self.pools = nn.ModuleList(ConvHeadPooling(a, b) for a, b in zip(w, w[1:], strict=False))
        self.norm = LayerNorm6(w[-1])
        self.head = nn.Linear(w[-1], num_classes)
        if self.head.weight.is_meta:
            return  # shapes only (parameter counting): initialising meta tensors is slow and meaningless
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(f"PiT built for {self.img_size}x{self.img_size} inputs, got {tuple(x.shape[-2:])}")
        x = self.patch_embed(x) + self.pos_embed
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        for blocks, pool in zip(self.stages, [*self.pools, None], strict=True):
            b, c, h, w = x.shape  # the stage runs on [class token; patch map flattened row-major]
            t = blocks(torch.cat([cls, x.flatten(2).transpose(1, 2)], 1))
            x, cls = t[:, 1:].transpose(1, 2).reshape(b, c, h, w), t[:, :1]
            if pool is not None:
                x, cls = pool(x, cls)
        return self.head(self.norm(cls)[:, 0])


@dataclass(frozen=True)
class PiTSpace:
    """Auto-Prox's PiT space: sample / mutate / crossover / build / encode / decode.

    Args:
        variant: ``tiny`` (Auto-Prox's PiT-Ti space) | ``test`` (a small space for unit tests).
        img_size: input side the subnets are built for.
        patch: conv-embedding kernel (Auto-Prox ``TRANSFORMER.PATCH_SIZE`` 16).
        stride: conv-embedding stride (Auto-Prox ``PIT.STRIDE`` 8).
        mutation_prob: per-gene probability of an MLP-ratio / per-stage head-count change.
        structure_prob: probability of a base-dim / per-stage depth change (AutoFormer's rates).
    """

    supernet_shape: ClassVar[tuple[int, int, int] | None] = None  # no supernet: search=prune does not apply
    variant: str = "tiny"
    img_size: int = 224
    patch: int = 16
    stride: int = 8
    mutation_prob: float = 0.2
    structure_prob: float = 0.4
    name: str = "pit"

    def __post_init__(self) -> None:
        from zcnas.cli import need  # noqa: PLC0415

        need("timm", "vit", "space=pit")  # built from timm's layers
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown PiT variant {self.variant!r}; valid: {sorted(VARIANTS)}")
        if token_side(self.img_size, self.patch, self.stride) < 1:
            raise ValueError(f"PiT img_size={self.img_size} is smaller than its patch={self.patch}")

    @property
    def choices(self) -> PiTChoices:
        """The variant's choice sets."""
        return VARIANTS[self.variant]

    def __len__(self) -> int:
        c = self.choices
        return len(c.base_dim) * len(c.mlp_ratio) * len(c.depth_triples()) * len(c.head_triples())

    def _valid(self, arch: PiTArch) -> bool:
        c = self.choices
        return (c.total_depth[0] <= sum(arch.depth) <= c.total_depth[1]) and list(arch.heads) == sorted(arch.heads)

    def _draw(self, rng: np.random.Generator) -> PiTArch:
        c = self.choices
        depths, heads = c.depth_triples(), c.head_triples()
        return PiTArch(int(rng.choice(c.base_dim)), float(rng.choice(c.mlp_ratio)),
                       depths[rng.integers(len(depths))], heads[rng.integers(len(heads))])

    def sample(self, n: int, rng: np.random.Generator) -> list[PiTArch]:
        """n distinct subnets: base_dim and mlp_ratio uniform, depth and head tuples uniform over the valid
        ones (Auto-Prox's ``pit_configs`` draws each from its list of 10 the same way)."""
        if n > len(self):
            raise ValueError(f"n_archs={n} exceeds the {len(self)} archs of PiT-{self.variant}")
        out: dict[PiTArch, None] = {}
        while len(out) < n:
            out.setdefault(self._draw(rng))
        return list(out)

    def mutate(self, arch: PiTArch, rng: np.random.Generator) -> PiTArch:
        """AutoFormer-style mutation: per-stage depth and base_dim (p=structure_prob), mlp ratio and
        per-stage heads (p=mutation_prob); redrawn until the constraints hold."""
        c = self.choices
        while True:
            depth = tuple(int(rng.choice(c.depth[s])) if rng.random() < self.structure_prob else d
                          for s, d in enumerate(arch.depth))
            heads = tuple(int(rng.choice(c.heads)) if rng.random() < self.mutation_prob else h for h in arch.heads)
            ratio = float(rng.choice(c.mlp_ratio)) if rng.random() < self.mutation_prob else arch.mlp_ratio
            base = int(rng.choice(c.base_dim)) if rng.random() < self.structure_prob else arch.base_dim
            child = PiTArch(base, ratio, depth, heads)
            if self._valid(child):
                return child

    def crossover(self, a: PiTArch, b: PiTArch, rng: np.random.Generator) -> PiTArch:
        """AutoFormer-style crossover: each gene (per stage) from either parent; redrawn until valid
        (the parents themselves are valid, so this ends)."""
        pick = lambda x, y: x if rng.random() < 0.5 else y  # noqa: E731
        while True:
            child = PiTArch(pick(a.base_dim, b.base_dim), pick(a.mlp_ratio, b.mlp_ratio),
                            tuple(pick(x, y) for x, y in zip(a.depth, b.depth, strict=True)),
                            tuple(pick(x, y) for x, y in zip(a.heads, b.heads, strict=True)))
            if self._valid(child):
                return child

    def build(self, arch: PiTArch, num_classes: int = 1000) -> nn.Module:
        """The standalone subnet for ``arch``."""
        return PiTNet(check(arch, self.choices, self.variant), num_classes, self.img_size, self.patch, self.stride)

    def param_count(self, arch: PiTArch, num_classes: int = 1000) -> int:
        """Closed-form #params of ``build(arch, num_classes)``."""
        return param_count(arch, num_classes, self.img_size, self.patch, self.stride)

    encode = staticmethod(encode)

    def decode(self, text: str) -> PiTArch:
        """Parse the string form (no eval) and check it against the variant's choice sets."""
        m = _RE.match(text.strip())
        if m is None:
            hint = " (an AutoFormer arch: use space=autoformer)" if text.strip().startswith("embed=") else ""
            raise ValueError(f"malformed PiT arch string {text!r}{hint}; expected "
                             "'base=B|mlp=R|depth=d1,d2,d3|heads=h1,h2,h3'")
        arch = PiTArch(int(m[1]), float(m[2]), tuple(int(d) for d in m[3].split(",")),
                       tuple(int(h) for h in m[4].split(",")))
        return check(arch, self.choices, self.variant)
