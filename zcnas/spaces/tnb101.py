"""TransNAS-Bench-101 micro and macro spaces (Duan et al., CVPR 2021, arXiv 2105.11871) with the
task-specific decoders.

Networks as the benchmark builds them (NASLib's port ``naslib/search_spaces/transbench101/tnb101/``:
``model_builder.py``, ``models/net_infer/{net_macro,cell_micro}.py``, ``models/net_ops/cell_ops.py``,
``models/{decoder,siamese,gan}.py``), rebuilt from plain ``torch.nn``:

* encoder ``MacroNet``: stem (3x3 s2 conv 3->32 + BN, ReLU-conv3x3 s2-BN 32->64), then one layer of two
  blocks per macro code: 1 = keep, 2 = double channels, 3 = stride 2, 4 = both; Kaiming (fan_out) conv
  init, BN (1, 0).
* micro space (4^6 = 4,096 cells, ``64-41414-a_bc_def``): every block is the micro cell, 4 nodes, an op on
  each of the 6 edges (0 none, 1 skip / factorized reduce, 2 ReLU-conv1x1-BN, 3 ReLU-conv3x3-BN), edges
  from the cell input carry the stride and channel change; macro skeleton 41414.
* macro space (3,256 networks, ``64-<codes>-basic``): 4-6 codes, 1-4 of them with stride 2 and 1-3 with
  channel doubling; every block the ResNet basic block (its shortcut BN keeps the reference's positional
  ``BatchNorm2d(planes, affine, track_running_stats)``, i.e. eps = momentum = 1).
* decoders: jigsaw: the encoder on each of 9 tiles (Siamese), channels concatenated, GAP, linear to
  1,000 permutations; autoencoder and normal: the 14-layer ``GenerativeDecoder`` to 3 x 256 x 256 (tanh),
  its number of upsamplings from the reference's 224-pixel feature-size bookkeeping; class_object (100),
  class_scene (63), room_layout (9): GAP + linear; segmentsemantic: ``SegmentationDecoder`` (17 classes).
  The GAN discriminator (training only) is not built.

String form: NAS-Bench-Suite-Zero / NASLib's key, a 6-tuple: micro op codes in ``a_bc_def`` order; macro
block codes padded with 0 (``convert_op_indices_{micro,macro}_to_str``). The TNB strings
``64-41414-1_00_210`` / ``64-1242-basic`` also decode.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

TASKS: dict[str, int] = {"jigsaw": 1000, "autoencoder": 3, "normal": 3, "class_object": 100, "class_scene": 63,
                         "room_layout": 9, "segmentsemantic": 17}
"""Every TNB101 task and its output size (classes, channels or regression targets)."""
MICRO_OPS = ("none", "skip_connect", "conv_1x1", "conv_3x3")  # TNB op codes 0..3
MICRO_MACRO = "41414"
BASE = 64
_KEY = re.compile(r"^\(\s*\d+(\s*,\s*\d+){5}\s*\)$")
_MICRO_STR = re.compile(r"^64-41414-([0-3])_([0-3]{2})_([0-3]{3})$")
_MACRO_STR = re.compile(r"^64-([1-4]{4,6})-basic$")


@dataclass(frozen=True)
class TNB101Arch:
    """A TNB101 network: ``variant`` (micro | macro) and its 6 codes (micro ops; macro blocks, 0-padded)."""

    variant: str
    codes: tuple[int, ...]

    def __post_init__(self) -> None:
        c = self.codes
        if self.variant == "micro":
            if len(c) != 6 or any(not 0 <= v <= 3 for v in c):
                raise ValueError(f"invalid TNB101 micro cell {c}: expected 6 op codes in 0..3 "
                                 f"({', '.join(f'{i} {o}' for i, o in enumerate(MICRO_OPS))})")
            return
        if self.variant != "macro":
            raise ValueError(f"unknown TNB101 variant {self.variant!r}; valid: micro, macro")
        blocks = [v for v in c if v]
        stride, double = sum(v > 2 for v in blocks), sum(v % 2 == 0 for v in blocks)
        if (len(c) != 6 or any(not 0 <= v <= 4 for v in c) or c[len(blocks):] != (0,) * (6 - len(blocks))
                or not 4 <= len(blocks) <= 6 or not 1 <= stride <= 4 or not 1 <= double <= 3):
            raise ValueError(f"invalid TNB101 macro network {c}: expected 4-6 block codes in 1..4 (then 0s), "
                             f"1-4 of them 3|4 (stride 2) and 1-3 of them 2|4 (channels x2); "
                             f"got {stride} strided, {double} doubling")

    @property
    def macro(self) -> str:
        """The macro code string (``41414`` for the micro space)."""
        return MICRO_MACRO if self.variant == "micro" else "".join(str(v) for v in self.codes if v)

    def tnb_string(self) -> str:
        """The benchmark's own string: ``64-41414-a_bc_def`` or ``64-<codes>-basic``."""
        if self.variant == "micro":
            a, b, c, d, e, f = self.codes
            return f"{BASE}-{MICRO_MACRO}-{a}_{b}{c}_{d}{e}{f}"
        return f"{BASE}-{self.macro}-basic"

    def __str__(self) -> str:
        return encode(self)


def encode(arch: TNB101Arch) -> str:
    """The Suite-Zero / NASLib key ``(c0, c1, c2, c3, c4, c5)``."""
    return "(" + ", ".join(str(v) for v in arch.codes) + ")"


def decode(text: str, variant: str) -> TNB101Arch:
    """Parse a Suite-Zero key or a TNB string (no eval); one-line ValueError on bad input."""
    s = text.strip()
    if _KEY.match(s):
        return TNB101Arch(variant, tuple(int(v) for v in s[1:-1].split(",")))
    m = (_MICRO_STR if variant == "micro" else _MACRO_STR).match(s)
    if m is None:
        form = "64-41414-a_bc_def" if variant == "micro" else "64-<4-6 codes in 1..4>-basic"
        raise ValueError(f"malformed TNB101 {variant} arch {text!r}; expected a 6-tuple key '(c0, ..., c5)' or '{form}'")
    digits = "".join(m.groups()) if variant == "micro" else m[1].ljust(6, "0")
    return TNB101Arch(variant, tuple(int(v) for v in digits))


# --------------------------------------------------------------------------- ops (net_ops/cell_ops.py)


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(bias=False) -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(c_out))


class Zero(nn.Module):
    """``none``: zeros of the output shape (a fresh tensor when the channel count changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.c_in == self.c_out:
            return x[:, :, ::self.stride, ::self.stride].mul(0.0)
        b, _, h, w = x.shape
        return x.new_zeros(b, self.c_out, (h + 1) // self.stride, (w + 1) // self.stride)


class FactorizedReduce(nn.Module):
    """ReLU, two 1x1 convs (the second on the input shifted by one pixel, zero-padded), concat, BN."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.convs = nn.ModuleList(nn.Conv2d(c_in, c, 1, stride=stride, bias=False)
                                   for c in (c_out // 2, c_out - c_out // 2))
        self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        y = self.pad(x)
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](y[:, :, 1:, 1:])], 1))


def make_op(code: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    """The micro op of TNB code ``code`` (0 none, 1 skip, 2 conv1x1, 3 conv3x3)."""
    if code == 0:
        return Zero(c_in, c_out, stride)
    if code == 1:
        return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride)
    k = 1 if code == 2 else 3
    return ReLUConvBN(c_in, c_out, k, stride, k // 2)


class MicroCell(nn.Module):
    """Node j = Σ_i op_ij(node i); edges from the input carry the stride and the channel change."""

    SOURCES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (from, to) of codes a, b, c, d, e, f

    def __init__(self, codes: tuple[int, ...], c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(code, c_in, c_out, stride) if src == 0 else make_op(code, c_out, c_out, 1)
                                   for code, (src, _) in zip(codes, self.SOURCES, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in (1, 2, 3):
            nodes.append(torch.stack([self.edges[e](nodes[s]) for e, (s, t) in enumerate(self.SOURCES) if t == j]).sum(0))
        return nodes[3]


class BasicBlock(nn.Module):
    """ResNet basic block: ReLU-conv3x3(stride)-BN, ReLU-conv3x3-BN, + (1x1 conv + BN) shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = None
        if stride != 1 or c_in != c_out:  # the reference's BatchNorm2d(planes, affine, track_running_stats)
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                            nn.BatchNorm2d(c_out, eps=1.0, momentum=1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x if self.downsample is None else self.downsample(x)) + self.conv_b(self.conv_a(x))


class Encoder(nn.Module):
    """``MacroNet(structure='backbone')``: stem, one 2-block layer per macro code; Kaiming init."""

    def __init__(self, arch: TNB101Arch, base: int = BASE) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, base // 2, 3, 2, 1, bias=False), nn.BatchNorm2d(base // 2),
                                  ReLUConvBN(base // 2, base, 3, 2, 1))
        layers, c = [], base
        self.n_strided = 0
        for code in (int(v) for v in arch.macro):
            c_out, stride = (2 * c if code % 2 == 0 else c), (2 if code > 2 else 1)
            self.n_strided += stride == 2
            blocks: list[nn.Module]
            if arch.variant == "micro":
                blocks = [MicroCell(arch.codes, c, c_out, stride), MicroCell(arch.codes, c_out, c_out, 1)]
            else:
                blocks = [BasicBlock(c, c_out, stride), BasicBlock(c_out, c_out, 1)]
            layers.append(nn.Sequential(*blocks))
            c = c_out
        self.layers = nn.Sequential(*layers)
        self.out_channels = c
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x))


# --------------------------------------------------------------------------- decoders (models/decoder.py)


class ConvLayer(nn.Sequential):
    """Conv (with bias) [-> BN] [-> activation]."""

    def __init__(self, c_in: int, c_out: int, act: nn.Module | None = None, bn: bool = True) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 3, 1, 1), *([nn.BatchNorm2d(c_out)] if bn else []),
                         *([act] if act is not None else []))


class DeconvLayer(nn.Sequential):
    """ConvTranspose 3x3 stride 2 (output padding 1: x2 resolution) -> BN -> LeakyReLU(0.2)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1), nn.BatchNorm2d(c_out),
                         nn.LeakyReLU(0.2))


class GenerativeDecoder(nn.Module):
    """``GenerativeDecoder``: 14 conv/deconv layers ``conv1..conv14``, ``n_up`` (2..6) upsamplings in the
    middle + 2 at the end, tanh; widths x ``scale`` (1 in the benchmark)."""

    def __init__(self, c_in: int, n_up: int, c_out: int = 3, scale: float = 1.0) -> None:
        super().__init__()

        def w(c: int) -> int:
            return max(1, int(c * scale))

        def layer(a: int, b: int, up: bool) -> nn.Module:
            return DeconvLayer(a, b) if up else ConvLayer(a, b, nn.LeakyReLU(0.2))

        spec = [(c_in, w(1024), False), (w(1024), w(1024), False), (w(1024), w(512), n_up == 6),
                (w(512), w(512), False), (w(512), w(256), n_up >= 5), (w(256), w(128), False),
                (w(128), w(64), n_up >= 4), (w(64), w(64), False), (w(64), w(32), n_up >= 3),
                (w(32), w(32), False), (w(32), w(16), True), (w(16), w(32), False), (w(32), w(16), True)]
        for i, (a, b, up) in enumerate(spec, 1):
            self.add_module(f"conv{i}", layer(a, b, up))
        self.conv14 = ConvLayer(w(16), c_out, nn.Tanh(), bn=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = layer(x)
        return x


def segmentation_decoder(c_in: int, n_up: int, classes: int, scale: float = 1.0) -> nn.Sequential:
    """``SegmentationDecoder``: conv to 1024, 6 - n_up halving convs, n_up deconvs, conv to ``classes``."""
    c = max(1, int(1024 * scale))
    layers: list[nn.Module] = [ConvLayer(c_in, c, nn.LeakyReLU(0.2))]
    for _ in range(6 - n_up):
        layers.append(ConvLayer(c, c // 2, nn.LeakyReLU(0.2)))
        c //= 2
    for _ in range(n_up - 1):
        layers.append(DeconvLayer(c, c // 2))
        c //= 2
    layers += [DeconvLayer(c, c), ConvLayer(c, classes, None, bn=False)]
    return nn.Sequential(*layers)


class TNB101Network(nn.Module):
    """Encoder + the task's decoder; jigsaw takes (B, 9, 3, h, w) tiles, every other task (B, 3, H, W)."""

    def __init__(self, arch: TNB101Arch, task: str, base: int = BASE) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"unknown TNB101 task {task!r}; valid: {sorted(TASKS)}")
        self.task = task
        self.encoder = Encoder(arch, base)
        c = self.encoder.out_channels
        # the reference sizes its decoders for a 224-pixel input (MacroNet's default input_dim)
        n_up = int(math.log2(256 / (224 // 4 // 2 ** self.encoder.n_strided)))
        self.decoder: nn.Module
        if task == "jigsaw":
            self.decoder = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(9 * c, TASKS[task]))
        elif task in ("autoencoder", "normal"):
            self.decoder = GenerativeDecoder(c, n_up, scale=base / BASE)
        elif task == "segmentsemantic":
            self.decoder = segmentation_decoder(c, n_up, TASKS[task], scale=base / BASE)
        else:
            self.decoder = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, TASKS[task]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.task == "jigsaw":
            return self.decoder(torch.cat([self.encoder(x[:, i]) for i in range(x.shape[1])], 1))
        return self.decoder(self.encoder(x))


# --------------------------------------------------------------------------- space


def _macro_space() -> list[tuple[int, ...]]:
    """All 3,256 macro code sequences (length 4-6, 1-4 strided, 1-3 doubling), 0-padded to 6."""
    out = []
    for n in (4, 5, 6):
        for codes in np.ndindex(*(4,) * n):
            c = tuple(int(v) + 1 for v in codes)
            if 1 <= sum(v > 2 for v in c) <= 4 and 1 <= sum(v % 2 == 0 for v in c) <= 3:
                out.append(c + (0,) * (6 - n))
    return out


@dataclass(frozen=True)
class TNB101Space:
    """TransNAS-Bench-101 micro (4,096 cells) or macro (3,256 networks) space for one task.

    Args:
        variant: ``micro`` | ``macro``.
        task: the TNB101 task whose decoder the networks carry (``jigsaw``, ``autoencoder``, ...).
        base: stem output channels (64 in the benchmark; smaller only for fast tests: the decoders'
            widths scale with it).
    """

    supernet_shape: ClassVar[tuple[int, int, int] | None] = None  # no supernet: search=prune does not apply
    variant: str = "micro"
    task: str = "jigsaw"
    base: int = BASE

    def __post_init__(self) -> None:
        if self.variant not in ("micro", "macro"):
            raise ValueError(f"unknown TNB101 variant {self.variant!r}; valid: micro, macro")
        if self.task not in TASKS:
            raise ValueError(f"unknown TNB101 task {self.task!r}; valid: {sorted(TASKS)}")

    @property
    def name(self) -> str:
        """``tnb101_micro`` | ``tnb101_macro``."""
        return f"tnb101_{self.variant}"

    def all_codes(self) -> list[tuple[int, ...]]:
        """Every arch of the space as its 6 codes."""
        if self.variant == "micro":
            return [tuple(int(v) for v in c) for c in np.ndindex(*(4,) * 6)]
        return _macro_space()

    def __len__(self) -> int:
        return 4096 if self.variant == "micro" else 3256

    def sample(self, n: int, rng: np.random.Generator) -> list[TNB101Arch]:
        """n distinct archs, uniform over the space."""
        codes = self.all_codes()
        if n > len(codes):
            raise ValueError(f"n_archs={n} exceeds the {len(codes)} archs of {self.name}")
        return [TNB101Arch(self.variant, codes[int(i)]) for i in rng.permutation(len(codes))[:n]]  # nested: a prefix

    def mutate(self, arch: TNB101Arch, rng: np.random.Generator) -> TNB101Arch:
        """Micro: one edge's op changed; macro: one block code changed (resampled until valid)."""
        while True:
            c = list(arch.codes)
            n = 6 if self.variant == "micro" else len([v for v in c if v])
            i = int(rng.integers(n))
            values = range(4) if self.variant == "micro" else range(1, 5)
            c[i] = int(rng.choice([v for v in values if v != c[i]]))
            try:
                return TNB101Arch(self.variant, tuple(c))
            except ValueError:
                continue

    def crossover(self, a: TNB101Arch, b: TNB101Arch, rng: np.random.Generator) -> TNB101Arch:
        """Each code from either parent (macro: the first valid of 100 draws, else ``a``)."""
        for _ in range(100):
            try:
                return TNB101Arch(self.variant, tuple(x if rng.random() < 0.5 else y
                                                      for x, y in zip(a.codes, b.codes, strict=True)))
            except ValueError:
                continue
        return a

    def build(self, arch: TNB101Arch, num_classes: int = 0) -> nn.Module:
        """Encoder + decoder of ``self.task`` (``num_classes`` is fixed by the task and ignored)."""
        if arch.variant != self.variant:
            raise ValueError(f"a TNB101 {arch.variant} arch cannot be built in the {self.variant} space")
        return TNB101Network(arch, self.task, self.base)

    def param_count(self, arch: TNB101Arch, num_classes: int = 0) -> int:
        """#params of ``build(arch)`` (counted on the meta device)."""
        with torch.device("meta"):
            return sum(p.numel() for p in self.build(arch).parameters())

    encode = staticmethod(encode)

    def decode(self, text: str) -> TNB101Arch:
        """Parse a key or TNB string of this space's variant."""
        return decode(text, self.variant)
