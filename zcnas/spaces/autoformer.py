"""AutoFormer ViT space (Chen et al., "AutoFormer: Searching Transformers for Visual Recognition",
ICCV 2021, arXiv 2107.00651); choice sets from microsoft/Cream ``AutoFormer/experiments/supernet/
supernet-{T,S,B}.yaml``, evolution rules from ``AutoFormer/lib/evolution.py`` (mutate/crossover).

Each subnet is built as a standalone network from timm's layers (no supernet weight sharing), in
one of two *flavours* (``AutoFormerSpace.flavour``):

``autoprox`` (default): the network the shipped AutoFormer-Tiny ground truth was trained with, the
    subnet of Auto-Prox (Wei et al., AAAI 2024; lliai/Auto-Prox-AAAI24
    ``pycls/models/auto/autoformer_subnet.py``, ``common.py``, ``base.py``, configs
    ``configs/auto/autoformer/autoformer-ti-subnet_*.yaml``, defaults ``pycls/core/config.py``):
    16x16 patch embedding (Conv2d with bias), class token, learned position embedding over the
    196 + 1 tokens, pre-norm blocks whose attention has a Q-K-V width of 3 x embed with bias,
    ``heads`` heads of width embed / heads and an embed -> embed projection, an MLP of
    ``int(embed * mlp_ratio)`` hidden units with ``nn.GELU``, LayerNorm eps 1e-6 everywhere, a
    final LayerNorm, and the classifier on the **mean of the patch tokens** (the class token is
    attended to but not read out). Init as Auto-Prox: trunc-normal(std 0.02) Linear weights and
    cls/pos tokens, zero Linear biases, LayerNorm (1, 0), PyTorch's default Conv2d init.
``cream``: the AutoFormer paper's search space as zcnas defined it first: heads of width 64 (Q-K-V
    width 64 x heads, independent of the embedding, AutoFormer's ``--change_qkv``), LayerNorm eps
    1e-5, classifier on the class token; same init.

Remaining differences from Auto-Prox's ``AutoFormerSub`` (flavour ``autoprox``), and why:

* Drop path (0.1, linear over depth) and dropout (0.0) are training regularisers: off by default so
  the probe's train-mode passes stay deterministic; they change neither shapes nor #params.
  ``AutoFormerNet.set_drop_path`` turns drop path on for training (``python -m zcnas.build``).
* Module names are timm's (``patch_embed.proj``, ``attn.qkv``, ``attn.proj``, ``mlp.fc1``/``fc2``
  vs Auto-Prox's ``patch_embed.projection``, ``attn.qkv_transform``, ``attn.projection``); the
  layers, their shapes and their forward order are the same. timm's attention may use torch's
  fused ``scaled_dot_product_attention``: the same function up to float rounding.
* No distillation token or head: the ``*_kd_acc`` columns were trained with Auto-Prox's
  intermediate-feature distillation (``DISTILLATION.ENABLE_INTER``; its linear feature transform
  lives outside the student) and ``ENABLE_LOGIT`` off, so the student is this same network.
* The classifier has ``num_classes`` outputs of the task the run uses (100 for ``cifar100_224``);
  Auto-Prox trained Flowers-102 with 102 and Chaoyang with 4 classes (the head is the only layer
  that differs; ``param_count`` gives #params for any class count).

Which network each ground-truth column was measured on: ``c100_*``, ``flower_*``, ``chaoyang_*``
were trained from scratch by Auto-Prox on flavour ``autoprox`` (heads 100 / 102 / 4);
``imagenet_super_acc`` is the ImageNet top-1 of the subnet with weights inherited from the
AutoFormer-T supernet (Cream's ``supernet_train.py --gp --change_qk --relative_position``): the
``cream`` family (Q-K-V 64 x heads, 1000-class head), which zcnas builds without the relative
position encoding and reads the class token where that supernet mean-pools (``--gp``).

Other deliberate deviations of ``cream`` from Cream: no relative position encoding; the super-B
head choices are {9, 10} as the issue tracker specifies (Cream's yaml also lists 8). Auto-Prox
defines only AutoFormer-Tiny; ``autoprox`` needs every embedding width divisible by every head
count (head width embed / heads), which holds for ``tiny`` and ``test`` only.

String form: ``embed=192|depth=12|mlp=3.5,4.0,...|heads=3,4,...`` (one ratio and head count per
layer; the same for both flavours).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np
import torch
from torch import nn

HEAD_DIM = 64  # flavour cream: width of every attention head
FLAVOURS = ("autoprox", "cream")


class LayerNorm6(nn.LayerNorm):
    """``nn.LayerNorm`` with eps 1e-6 (Auto-Prox ``TRANSFORMER.LN_EPS``; torch's default is 1e-5)."""

    def __init__(self, dim: int, **kwargs: object) -> None:
        super().__init__(dim, eps=1e-6, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Choices:
    """Choice sets of one AutoFormer supernet."""

    embed: tuple[int, ...]
    depth: tuple[int, ...]
    mlp_ratio: tuple[float, ...]
    heads: tuple[int, ...]


VARIANTS: dict[str, Choices] = {
    "tiny": Choices((192, 216, 240), (12, 13, 14), (3.5, 4.0), (3, 4)),
    "small": Choices((320, 384, 448), (12, 13, 14), (3.0, 3.5, 4.0), (5, 6, 7)),
    "base": Choices((528, 576, 624), (14, 15, 16), (3.0, 3.5, 4.0), (9, 10)),
    "test": Choices((16, 24, 32), (2, 3), (2.0, 4.0), (1, 2)),  # fast tests only
}


@dataclass(frozen=True)
class AutoFormerArch:
    """One subnet: global embedding dim, depth, and per-layer MLP ratio and head count."""

    embed: int
    depth: int
    mlp_ratio: tuple[float, ...]
    heads: tuple[int, ...]

    def __str__(self) -> str:
        return encode(self)


def encode(arch: AutoFormerArch) -> str:
    """``embed=E|depth=D|mlp=r1,...,rD|heads=h1,...,hD``."""
    return (f"embed={arch.embed}|depth={arch.depth}|mlp={','.join(f'{r:g}' for r in arch.mlp_ratio)}"
            f"|heads={','.join(str(h) for h in arch.heads)}")


_RE = re.compile(r"^embed=(\d+)\|depth=(\d+)\|mlp=([\d.,]+)\|heads=([\d,]+)$")


def check(arch: AutoFormerArch, choices: Choices, variant: str) -> AutoFormerArch:
    """Return ``arch`` if every gene is in the variant's choice sets; else a one-line ValueError."""
    bad = []
    if arch.embed not in choices.embed:
        bad.append(f"embed {arch.embed} not in {choices.embed}")
    if arch.depth not in choices.depth:
        bad.append(f"depth {arch.depth} not in {choices.depth}")
    if len(arch.mlp_ratio) != arch.depth or len(arch.heads) != arch.depth:
        bad.append(f"{len(arch.mlp_ratio)} mlp ratios / {len(arch.heads)} head counts for depth {arch.depth}")
    bad += [f"mlp ratio {r:g} not in {choices.mlp_ratio}" for r in set(arch.mlp_ratio) - set(choices.mlp_ratio)]
    bad += [f"heads {h} not in {choices.heads}" for h in set(arch.heads) - set(choices.heads)]
    if bad:
        raise ValueError(f"AutoFormer-{variant} arch {encode(arch)!r}: {'; '.join(bad)}")
    return arch


def param_count(arch: AutoFormerArch, num_classes: int, img_size: int = 224, patch: int = 16,
                flavour: str = "autoprox") -> int:
    """Closed-form #params of the built subnet (equals ``sum(p.numel())``); attention width
    ``a`` = embed (autoprox) or 64 x heads (cream): qkv e·3a + 3a, proj a·e + e."""
    e, tokens = arch.embed, (img_size // patch) ** 2 + 1
    n = 3 * patch * patch * e + e + e + tokens * e  # patch conv (+bias), cls token, pos embedding
    for r, h in zip(arch.mlp_ratio, arch.heads, strict=True):
        a, hidden = (e if flavour == "autoprox" else HEAD_DIM * h), int(e * r)
        n += 2 * e + e * 3 * a + 3 * a + a * e + e  # norm1, qkv, proj
        n += 2 * e + e * hidden + hidden + hidden * e + e  # norm2, fc1, fc2
    return n + 2 * e + e * num_classes + num_classes  # final norm, head


@cache
def _attention64(base: type[nn.Module]) -> type[nn.Module]:
    """timm's Attention with heads of width 64 (timm wants a class, not a partial)."""

    class Attention64(base):  # type: ignore[misc, valid-type]
        def __init__(self, dim: int, **kwargs: object) -> None:
            super().__init__(dim, attn_head_dim=HEAD_DIM, **kwargs)

    return Attention64


class AutoFormerNet(nn.Module):
    """A standalone AutoFormer subnet assembled from timm blocks (``flavour``: see the module doc)."""

    def __init__(self, arch: AutoFormerArch, num_classes: int, img_size: int = 224, patch: int = 16,
                 flavour: str = "autoprox"):
        super().__init__()
        from timm.layers import PatchEmbed, trunc_normal_  # noqa: PLC0415
        from timm.models.vision_transformer import Attention, Block  # noqa: PLC0415

        e, self.mean_pool = arch.embed, flavour == "autoprox"
        norm = LayerNorm6 if flavour == "autoprox" else nn.LayerNorm
        attn = Attention if flavour == "autoprox" else _attention64(Attention)
        self.patch_embed = PatchEmbed(img_size=img_size, patch_size=patch, in_chans=3, embed_dim=e)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, e))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, e))
        self.blocks = nn.Sequential(*(
            Block(e, num_heads=h, mlp_ratio=r, qkv_bias=True, act_layer=nn.GELU, norm_layer=norm, attn_layer=attn)
            for r, h in zip(arch.mlp_ratio, arch.heads, strict=True)))
        self.norm = norm(e)
        self.head = nn.Linear(e, num_classes)
        if self.head.weight.is_meta:
            return  # shapes only (parameter counting): initialising meta tensors is slow and meaningless
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def set_drop_path(self, prob: float) -> None:
        """Stochastic depth from now on: block i of d drops its residual branches with probability
        ``prob * i / (d - 1)`` (DeiT / Cream ``AutoFormer/model/supernet_transformer.py``: linear over
        depth from 0 to ``drop_path_rate``); 0 removes it."""
        from timm.layers import DropPath  # noqa: PLC0415

        d = len(self.blocks)
        for i, blk in enumerate(self.blocks):
            p = prob * i / max(1, d - 1)
            blk.drop_path1 = DropPath(p) if p > 0 else nn.Identity()
            blk.drop_path2 = DropPath(p) if p > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 1:].mean(1) if self.mean_pool else x[:, 0])


@dataclass(frozen=True)
class AutoFormerSpace:
    """AutoFormer supernet space: sample / mutate / crossover / build / encode / decode.

    Args:
        variant: ``tiny`` | ``small`` | ``base`` (``test``: a small space for unit tests).
        flavour: ``autoprox`` (the shipped ground truth's network) | ``cream`` (see the module doc).
        img_size: input side the subnets are built for.
        patch: patch size.
        mutation_prob: per-gene probability of an MLP-ratio / head-count change (AutoFormer 0.2).
        structure_prob: probability of a depth / embed change (AutoFormer 0.4).
    """

    supernet_shape: ClassVar[tuple[int, int, int] | None] = None  # no supernet: search=prune does not apply
    variant: str = "tiny"
    img_size: int = 224
    patch: int = 16
    mutation_prob: float = 0.2
    structure_prob: float = 0.4
    name: str = "autoformer"
    flavour: str = "autoprox"

    def __post_init__(self) -> None:
        from zcnas.cli import need  # noqa: PLC0415

        need("timm", "vit", "space=autoformer")  # built from timm's layers
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown AutoFormer variant {self.variant!r}; valid: {sorted(VARIANTS)}")
        if self.flavour not in FLAVOURS:
            raise ValueError(f"unknown space.flavour={self.flavour!r}; valid: {list(FLAVOURS)}")
        c = VARIANTS[self.variant]
        odd = [(e, h) for e in c.embed for h in c.heads if e % h]
        if self.flavour == "autoprox" and odd:
            raise ValueError(f"space.flavour=autoprox needs embed divisible by heads (head width embed/heads), but "
                             f"AutoFormer-{self.variant} has embed {odd[0][0]} with {odd[0][1]} heads; "
                             "Auto-Prox defines tiny only: use space.variant=tiny or space.flavour=cream")

    @property
    def choices(self) -> Choices:
        """The variant's choice sets."""
        return VARIANTS[self.variant]

    def __len__(self) -> int:
        c = self.choices
        per_layer = len(c.mlp_ratio) * len(c.heads)
        return len(c.embed) * sum(per_layer ** d for d in c.depth)

    def _layers(self, depth: int, rng: np.random.Generator) -> tuple[tuple[float, ...], tuple[int, ...]]:
        c = self.choices
        return (tuple(float(rng.choice(c.mlp_ratio)) for _ in range(depth)),
                tuple(int(rng.choice(c.heads)) for _ in range(depth)))

    def sample(self, n: int, rng: np.random.Generator) -> list[AutoFormerArch]:
        """n distinct subnets, every gene uniform over its choice set."""
        if n > len(self):
            raise ValueError(f"n_archs={n} exceeds the {len(self)} archs of AutoFormer-{self.variant}")
        out: dict[AutoFormerArch, None] = {}
        while len(out) < n:
            depth = int(rng.choice(self.choices.depth))
            out.setdefault(AutoFormerArch(int(rng.choice(self.choices.embed)), depth, *self._layers(depth, rng)))
        return list(out)

    def mutate(self, arch: AutoFormerArch, rng: np.random.Generator) -> AutoFormerArch:
        """AutoFormer's mutation: depth (p=0.4; new layers sampled), per-layer genes (p=0.2), embed (p=0.4)."""
        c, depth = self.choices, arch.depth
        ratios, heads = list(arch.mlp_ratio), list(arch.heads)
        if rng.random() < self.structure_prob:
            depth = int(rng.choice(c.depth))
            extra_r, extra_h = self._layers(max(0, depth - arch.depth), rng)
            ratios, heads = (ratios + list(extra_r))[:depth], (heads + list(extra_h))[:depth]
        for i in range(depth):
            if rng.random() < self.mutation_prob:
                ratios[i] = float(rng.choice(c.mlp_ratio))
        for i in range(depth):
            if rng.random() < self.mutation_prob:
                heads[i] = int(rng.choice(c.heads))
        embed = int(rng.choice(c.embed)) if rng.random() < self.structure_prob else arch.embed
        return AutoFormerArch(embed, depth, tuple(ratios), tuple(heads))

    def crossover(self, a: AutoFormerArch, b: AutoFormerArch, rng: np.random.Generator) -> AutoFormerArch:
        """AutoFormer's crossover: each gene from either parent; parents must share the depth."""
        if a.depth != b.depth:
            raise ValueError(f"crossover needs parents of equal depth, got {a.depth} and {b.depth}")
        pick = lambda x, y: x if rng.random() < 0.5 else y  # noqa: E731
        return AutoFormerArch(pick(a.embed, b.embed), a.depth,
                              tuple(pick(x, y) for x, y in zip(a.mlp_ratio, b.mlp_ratio, strict=True)),
                              tuple(pick(x, y) for x, y in zip(a.heads, b.heads, strict=True)))

    def build(self, arch: AutoFormerArch, num_classes: int = 1000) -> nn.Module:
        """The standalone subnet for ``arch``."""
        return AutoFormerNet(check(arch, self.choices, self.variant), num_classes, self.img_size, self.patch,
                             self.flavour)

    def param_count(self, arch: AutoFormerArch, num_classes: int = 1000) -> int:
        """Closed-form #params of ``build(arch, num_classes)``."""
        return param_count(arch, num_classes, self.img_size, self.patch, self.flavour)

    encode = staticmethod(encode)

    def decode(self, text: str) -> AutoFormerArch:
        """Parse the string form (no eval) and check it against the variant's choice sets."""
        m = _RE.match(text.strip())
        if m is None:
            hint = " (a PiT arch: use space=pit)" if text.strip().startswith("base=") else ""
            raise ValueError(f"malformed AutoFormer arch string {text!r}{hint}; expected "
                             "'embed=E|depth=D|mlp=r1,...,rD|heads=h1,...,hD'")
        arch = AutoFormerArch(int(m[1]), int(m[2]), tuple(float(r) for r in m[3].split(",")),
                              tuple(int(h) for h in m[4].split(",")))
        return check(arch, self.choices, self.variant)
