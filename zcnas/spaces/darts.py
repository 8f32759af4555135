"""DARTS cell space and its evaluation network (Liu et al., ICLR 2019, arXiv 1806.09055), the space of
NAS-Bench-301 (Zela et al., ICLR 2022, arXiv 2008.09777).

A genotype is a normal and a reduction cell, each 8 (op, input) pairs: intermediate node i (0..3)
takes pairs 2i and 2i+1, whose inputs index the cell's states (0, 1: the two previous cells' outputs,
2..i+1: earlier intermediate nodes); the cell output concatenates nodes 2..5. Ops: the 7 DARTS
evaluation ops and ``none``. The network is quark0/darts ``cnn/model.py`` ``NetworkCIFAR`` with
``cnn/operations.py`` rebuilt from plain ``torch.nn``: 3x3 conv+BN stem with 3C channels, ``layers``
cells with reductions (channels doubled) at 1/3 and 2/3 depth, global average pooling, linear head.
The auxiliary head (``DartsSpace.auxiliary``, ``cnn/model.py`` ``AuxiliaryHeadCIFAR`` on the output of
cell ``2 * layers // 3``) and drop path (``DartsNetwork.set_drop_path``, ``cnn/utils.py`` ``drop_path``
on every non-identity op) only act in training and are off by default: probing uses neither, and
``python -m zcnas.build recipe=darts_c10`` turns both on. ``C``/``layers`` default to NAS-Bench-301's
training setup (32 channels, 8 cells, automl/nasbench301 ``configspace``/``train`` defaults).

Encodings, both parsed explicitly (never ``eval``):

* NAS-Bench-Suite-Zero / NASLib compact key (``naslib/search_spaces/nasbench301/conversions.py``
  ``convert_genotype_to_compact``), ``[[(input, op), ... x8], [(input, op), ... x8]]`` with op indices
  over max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3,
  dil_conv_5x5 (and 7 = ``none``, which NASLib's compact form lacks). This is :func:`encode`'s form.
* DARTS's ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...],
  reduce_concat=[2, 3, 4, 5])`` (``range(2, 6)`` accepted for the concat lists).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from zcnas.spaces.supernet import MixedOp, Supernet, op_seed

COMPACT_OPS: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                                "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "none")
NB301_OPS = COMPACT_OPS[:7]  # the NAS-Bench-301 space (no 'none')
STEPS = 4
CONCAT = (2, 3, 4, 5)
_PAIR = r"\(\s*(\d+)\s*,\s*(\d+)\s*\)"
_PAIR_NC = r"\(\s*\d+\s*,\s*\d+\s*\)"
_COMPACT_CELL = rf"\[\s*{_PAIR_NC}(?:\s*,\s*{_PAIR_NC})*\s*\]"
_GPAIR = re.compile(r"""\(\s*(['"])([a-z0-9_]+)\1\s*,\s*(\d+)\s*\)""")
_CONCAT = r"(\[[\d\s,]*\]|range\(\s*\d+\s*,\s*\d+\s*\))"
_GENOTYPE = re.compile(rf"^Genotype\(\s*normal\s*=\s*\[(.*?)\]\s*,\s*normal_concat\s*=\s*{_CONCAT}\s*,"
                       rf"\s*reduce\s*=\s*\[(.*?)\]\s*,\s*reduce_concat\s*=\s*{_CONCAT}\s*\)$", re.S)

Cell_ = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class DartsArch:
    """A DARTS genotype: ``normal`` and ``reduce`` as 8 (op name, input state) pairs each."""

    normal: Cell_
    reduce: Cell_

    def __post_init__(self) -> None:
        for kind, cell in (("normal", self.normal), ("reduce", self.reduce)):
            if len(cell) != 2 * STEPS:
                raise ValueError(f"DARTS {kind} cell {list(cell)} has {len(cell)} (op, input) pairs; expected 8")
            for j, (op, inp) in enumerate(cell):
                if op not in COMPACT_OPS:
                    raise ValueError(f"DARTS {kind} cell pair {j} {(op, inp)}: unknown op {op!r}; valid: {COMPACT_OPS}")
                if not 0 <= inp <= j // 2 + 1:
                    raise ValueError(f"DARTS {kind} cell pair {j} {(op, inp)}: input {inp} out of range 0..{j // 2 + 1}"
                                     f" (node {j // 2} reads the 2 cell inputs and nodes before it)")

    def __str__(self) -> str:
        return encode(self)

    def genotype(self) -> str:
        """The DARTS ``Genotype(...)`` string."""
        def cell(c: Cell_) -> str:
            return "[" + ", ".join(f"('{op}', {i})" for op, i in c) + "]"

        return (f"Genotype(normal={cell(self.normal)}, normal_concat=[2, 3, 4, 5], "
                f"reduce={cell(self.reduce)}, reduce_concat=[2, 3, 4, 5])")


def encode(arch: DartsArch) -> str:
    """The Suite-Zero / NASLib compact key ``[[(input, op), ...], [(input, op), ...]]``."""
    cells = ("[" + ", ".join(f"({i}, {COMPACT_OPS.index(op)})" for op, i in c) + "]" for c in (arch.normal, arch.reduce))
    return "[" + ", ".join(cells) + "]"


def _concat(text: str, which: str, original: str) -> None:
    m = re.fullmatch(r"range\(\s*(\d+)\s*,\s*(\d+)\s*\)", text)
    values = tuple(range(int(m[1]), int(m[2]))) if m else tuple(int(v) for v in re.findall(r"\d+", text))
    if values != CONCAT:
        raise ValueError(f"DARTS genotype {original!r}: {which}={text} unsupported; the NB301 space "
                         "concatenates nodes [2, 3, 4, 5]")


def decode(text: str) -> DartsArch:
    """Parse a compact key or a ``Genotype(...)`` string (no eval); one-line ValueError on bad input."""
    s = text.strip()
    if s.startswith("Genotype"):
        m = _GENOTYPE.match(s)
        if m is None:
            raise ValueError(f"malformed DARTS genotype {text!r}; expected \"Genotype(normal=[('op', input), ...], "
                             "normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])\"")
        cells = []
        for body in (m[1], m[3]):
            pairs = _GPAIR.findall(body)
            if _GPAIR.sub("", body).replace(",", "").strip():
                raise ValueError(f"malformed DARTS genotype {text!r}: cannot parse {body!r} as ('op', input) pairs")
            cells.append(tuple((op, int(i)) for _, op, i in pairs))
        _concat(m[2], "normal_concat", text)
        _concat(m[4], "reduce_concat", text)
        return DartsArch(cells[0], cells[1])
    m2 = re.fullmatch(rf"\[\s*({_COMPACT_CELL})\s*,\s*({_COMPACT_CELL})\s*\]", s)
    if m2 is None:
        raise ValueError(f"malformed DARTS arch {text!r}; expected a compact key [[(input, op) x8], [(input, op) x8]] "
                         "or a Genotype(normal=..., normal_concat=..., reduce=..., reduce_concat=...) string")
    cells = []
    for body in (m2[1], m2[2]):
        pairs = [(int(a), int(b)) for a, b in re.findall(_PAIR, body)]
        bad = [op for _, op in pairs if op >= len(COMPACT_OPS)]
        if bad:
            raise ValueError(f"DARTS compact key {text!r}: op index {bad[0]} out of range 0..{len(COMPACT_OPS) - 1} "
                             f"({', '.join(COMPACT_OPS)})")
        cells.append(tuple((COMPACT_OPS[op], i) for i, op in pairs))
    return DartsArch(cells[0], cells[1])


# --------------------------------------------------------------------------- operations (cnn/operations.py)


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(bias=False) -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(c_out))


class DilConv(nn.Sequential):
    """ReLU -> dilated depthwise conv -> pointwise conv -> BN."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int, dilation: int) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c, c, kernel, stride, padding, dilation=dilation, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))


class SepConv(nn.Sequential):
    """Two (ReLU -> depthwise conv -> pointwise conv -> BN) stacks, the first with the stride."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c, c, kernel, stride, padding, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c),
                         nn.ReLU(inplace=False), nn.Conv2d(c, c, kernel, 1, padding, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))


class Zero(nn.Module):
    """``none``: zeros, subsampled at stride 2."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """ReLU, two 1x1 stride-2 convs on offset grids concatenated, BN (halves the resolution)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], 1))


def make_op(name: str, c: int, stride: int) -> nn.Module:
    """One DARTS op with ``c`` channels in and out (``cnn/operations.py`` ``OPS``)."""
    if name == "none":
        return Zero(stride)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    k = int(name[-1])
    if name.startswith("sep_conv"):
        return SepConv(c, k, stride, k // 2)
    return DilConv(c, k, stride, k - 1, 2)  # dil_conv_3x3: padding 2, dil_conv_5x5: padding 4


def drop_path(x: torch.Tensor, prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``prob``, scale the kept ones by 1 / (1 - prob) (quark0/darts
    ``cnn/utils.py`` ``drop_path``; uses the global torch RNG)."""
    keep = 1.0 - prob
    mask = torch.bernoulli(torch.full((x.size(0), 1, 1, 1), keep, device=x.device, dtype=x.dtype))
    return x / keep * mask


class Cell(nn.Module):
    """One DARTS evaluation cell (``model.py`` ``Cell``); called as ``cell(s1, s0)``: previous output first.
    In training with ``drop_prob > 0`` every op but the identity goes through :func:`drop_path`."""

    def __init__(self, pairs: Cell_, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self._ops = nn.ModuleList(make_op(op, c, 2 if reduction and i < 2 else 1) for op, i in pairs)
        self._indices = [i for _, i in pairs]
        self.drop_prob = 0.0

    def _op(self, j: int, x: torch.Tensor) -> torch.Tensor:
        h = self._ops[j](x)
        if self.training and self.drop_prob > 0 and not isinstance(self._ops[j], nn.Identity):
            h = drop_path(h, self.drop_prob)
        return h

    def forward(self, s1: torch.Tensor, s0: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(STEPS):
            states.append(self._op(2 * i, states[self._indices[2 * i]])
                          + self._op(2 * i + 1, states[self._indices[2 * i + 1]]))
        return torch.cat([states[i] for i in CONCAT], 1)


class AuxiliaryHead(nn.Sequential):
    """DARTS ``AuxiliaryHeadCIFAR`` for an 8x8 input: ReLU, 5x5 average pool stride 3 (-> 2x2), 1x1 conv
    to 128 + BN + ReLU, 2x2 conv to 768 + BN + ReLU, linear classifier."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__(nn.ReLU(inplace=False), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
                         nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=False),
                         nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=False),
                         nn.Flatten(), nn.Linear(768, num_classes))


SUPER_EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(STEPS) for j in range(i + 2))
"""(node, input state) of the 14 edges of a DARTS search cell, in the DARTS/TE-NAS ``_ops`` order."""


class SuperCell(Cell):
    """A DARTS search cell (``model_search.py`` ``Cell``): all 14 edges, each a :class:`MixedOp` of its
    remaining ops (seeded by its place); node i sums its edges that have an op left."""

    def __init__(self, net: Supernet, where: int, c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool) -> None:
        nn.Module.__init__(self)
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        edges = []
        for e, ((_, inp), ops) in enumerate(zip(SUPER_EDGES, net.cells[int(reduction)], strict=True)):
            made = {}
            for op in ops:
                with op_seed(net.seed, where, e, op):
                    made[op] = make_op(op, c, 2 if reduction and inp < 2 else 1)
            edges.append(MixedOp(made))
        self._ops = nn.ModuleList(edges)

    def forward(self, s1: torch.Tensor, s0: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(STEPS):
            outs = [self._ops[e](states[j]) for e, (node, j) in enumerate(SUPER_EDGES) if node == i]
            kept = [o for o in outs if o is not None]
            states.append(sum(kept[1:], kept[0]))
        return torch.cat([states[i] for i in CONCAT], 1)


class CellChain(nn.Sequential):
    """The cells in order, each fed (previous output, the one before): an ``nn.Sequential`` of composite
    blocks, so block-wise proxies (AZ-NAS) see one block per cell with its previous output as input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = x
        for cell in self:
            s0, s1 = s1, cell(s1, s0)
        return s1


class DartsNetwork(nn.Module):
    """DARTS ``NetworkCIFAR``: stem (3C), cells, GAP, linear head; with ``auxiliary`` also the auxiliary
    head on the output of cell ``2 * layers // 3``: in training mode ``forward`` then returns
    ``(logits, auxiliary logits)`` (as DARTS), in eval mode the logits alone."""

    def __init__(self, arch: DartsArch | None, num_classes: int = 10, C: int = 32, layers: int = 8,
                 cell: Callable[..., nn.Module] | None = None, auxiliary: bool = False) -> None:
        super().__init__()
        self.auxiliary, self.aux_at = auxiliary, 2 * layers // 3
        if cell is None:  # (index, c_pp, c_p, c, reduction, reduction_prev) -> cell; a supernet gives its own
            assert arch is not None
            cell = lambda i, *a: Cell(arch.reduce if a[3] else arch.normal, *a)  # noqa: E731
        c_curr = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, C
        cells, reduction_prev = [], False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            cells.append(cell(i, c_pp, c_p, c_curr, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, len(CONCAT) * c_curr
            if auxiliary and i == self.aux_at:
                c_aux = c_p
        self.cells = CellChain(*cells)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        if auxiliary:
            self.auxiliary_head = AuxiliaryHead(c_aux, num_classes)

    def set_drop_path(self, prob: float) -> None:
        """Drop-path probability of every cell from now on (DARTS ``model.drop_path_prob``)."""
        for cell in self.cells:
            cell.drop_prob = float(prob)  # type: ignore[assignment]  # every cell is a Cell

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if not (self.auxiliary and self.training):
            return self.classifier(self.global_pooling(self.cells(self.stem(x))).flatten(1))
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s1, s0)
            if i == self.aux_at:
                aux = self.auxiliary_head(s1)
        return self.classifier(self.global_pooling(s1).flatten(1)), aux


# --------------------------------------------------------------------------- space


@dataclass(frozen=True)
class DartsSpace:
    """The DARTS / NAS-Bench-301 cell space: sample / mutate / build / encode / decode.

    Args:
        C: initial channels (NB301: 32; the DARTS paper's CIFAR-10 retraining: 36).
        layers: cells (NB301: 8; DARTS retraining: 20).
        auxiliary: build the auxiliary head (training only: DARTS weighs its loss 0.4); not in
            :meth:`param_count`, which counts the network that infers (as DARTS reports #params).
    """

    C: int = 32
    layers: int = 8
    name: str = "darts"
    auxiliary: bool = False
    supernet_shape: ClassVar[tuple[int, int, int]] = (2, len(SUPER_EDGES), len(NB301_OPS))
    """(cell types, edges per cell, ops per edge) of the pruning supernet (the NB301 ops, no ``none``)."""
    node_inputs: ClassVar[int | None] = 2  # a DARTS node keeps two input edges
    supernet_nodes: ClassVar[tuple[int, ...]] = tuple(node for node, _ in SUPER_EDGES)

    def __len__(self) -> int:
        # per cell: node i picks 2 distinct inputs of i+2 and an op (of 7) for each
        per_cell = int(np.prod([(i + 2) * (i + 1) // 2 * len(NB301_OPS) ** 2 for i in range(STEPS)]))
        return per_cell ** 2

    @staticmethod
    def _cell(rng: np.random.Generator) -> Cell_:
        pairs: list[tuple[str, int]] = []
        for i in range(STEPS):  # NASLib's sample_random_architecture: 2 distinct inputs, uniform ops
            for inp in rng.choice(i + 2, 2, replace=False):
                pairs.append((NB301_OPS[int(rng.integers(len(NB301_OPS)))], int(inp)))
        return tuple(pairs)

    def sample(self, n: int, rng: np.random.Generator) -> list[DartsArch]:
        """n distinct genotypes of the NB301 space (no ``none``), uniform as NASLib samples them."""
        out: dict[DartsArch, None] = {}
        while len(out) < n:
            out.setdefault(DartsArch(self._cell(rng), self._cell(rng)))
        return list(out)

    def mutate(self, arch: DartsArch, rng: np.random.Generator) -> DartsArch:
        """Change one (op or input) of one pair of one cell (NASLib's NB301 ``mutate``, one edit)."""
        cells = [list(arch.normal), list(arch.reduce)]
        c, j = int(rng.integers(2)), int(rng.integers(2 * STEPS))
        op, inp = cells[c][j]
        other = cells[c][j ^ 1][1]
        if rng.random() < 0.5:
            choices = [k for k in range(j // 2 + 2) if k not in (inp, other)]
            if choices:
                inp = int(rng.choice(choices))
        else:
            op = str(rng.choice([o for o in NB301_OPS if o != op]))
        cells[c][j] = (op, inp)
        return DartsArch(tuple(cells[0]), tuple(cells[1]))

    def crossover(self, a: DartsArch, b: DartsArch, rng: np.random.Generator) -> DartsArch:
        """Each node's pair of edges, per cell, from either parent."""
        def mix(x: Cell_, y: Cell_) -> Cell_:
            return tuple(p for i in range(STEPS) for p in (x if rng.random() < 0.5 else y)[2 * i:2 * i + 2])

        return DartsArch(mix(a.normal, b.normal), mix(a.reduce, b.reduce))

    def build(self, arch: DartsArch | Supernet, num_classes: int = 10) -> nn.Module:
        """The DARTS evaluation network for ``arch`` (PyTorch default init, no auxiliary head), or a
        pruning supernet's."""
        if isinstance(arch, Supernet):
            return self.supernet(arch, num_classes)
        return DartsNetwork(arch, num_classes, self.C, self.layers, auxiliary=self.auxiliary)

    def supernet_start(self, seed: int = 0) -> Supernet:
        """The pruning start: the 7 NB301 ops on all 14 edges of both cell types (TE-NAS on DARTS)."""
        return Supernet(self.name, tuple(tuple(NB301_OPS for _ in SUPER_EDGES) for _ in range(2)), seed)

    def supernet(self, net: Supernet, num_classes: int = 10) -> nn.Module:
        """The evaluation network's skeleton (stem, ``layers`` cells, head; drawn from ``net.seed``) with
        DARTS search cells of ``net``'s remaining ops (each op from its own seed)."""
        with op_seed(net.seed, "net"):
            return DartsNetwork(None, num_classes, self.C, self.layers,
                                cell=lambda i, *a: SuperCell(net, i, *a))

    def supernet_arch(self, net: Supernet) -> DartsArch:
        """The genotype of a fully pruned supernet: per node its two edges (by input), one op each."""
        cells = []
        for kind, cell in zip(("normal", "reduce"), net.cells, strict=True):
            pairs = []
            for i in range(STEPS):
                kept = [(ops, j) for (node, j), ops in zip(SUPER_EDGES, cell, strict=True) if node == i and ops]
                if len(kept) != 2 or any(len(ops) != 1 for ops, _ in kept):
                    raise ValueError(f"supernet {net.key()}: {kind} node {i} is not pruned to 2 edges of one op")
                pairs += [(ops[0], j) for ops, j in kept]
            cells.append(tuple(pairs))
        return DartsArch(cells[0], cells[1])

    def param_count(self, arch: DartsArch, num_classes: int = 10) -> int:
        """Closed-form #params of ``build(arch, num_classes)``: per op sep k: 2(ck² + c² + 2c), dil k:
        ck² + c² + 2c, stride-2 skip: c² + 2c; preprocessing c_in·c + 2c; stem 27·3C + 6C; head."""
        def op(name: str, c: int, stride: int) -> int:
            if name.startswith(("sep_conv", "dil_conv")):
                k = int(name[-1])
                return (2 if name.startswith("sep") else 1) * (c * k * k + c * c + 2 * c)
            return c * c + 2 * c if name == "skip_connect" and stride == 2 else 0

        n = 27 * 3 * self.C + 6 * self.C
        c_pp, c_p, c = 3 * self.C, 3 * self.C, self.C
        for i in range(self.layers):
            reduction = i in (self.layers // 3, 2 * self.layers // 3)
            c *= 2 if reduction else 1
            n += c_pp * c + 2 * c + c_p * c + 2 * c
            n += sum(op(o, c, 2 if reduction and j < 2 else 1) for o, j in (arch.reduce if reduction else arch.normal))
            c_pp, c_p = c_p, len(CONCAT) * c
        return n + c_p * num_classes + num_classes

    @staticmethod
    def encode(arch: DartsArch | Supernet) -> str:
        """The compact key (a supernet: its :meth:`Supernet.key`)."""
        return arch.key() if isinstance(arch, Supernet) else encode(arch)

    decode = staticmethod(decode)
