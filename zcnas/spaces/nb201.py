"""NAS-Bench-201 cell space (Dong & Yang, ICLR 2020, arXiv 2001.00326).

The network is the benchmark's own ``TinyNetwork`` (reference: D-X-Y/AutoDL-Projects
``xautodl/models/cell_infers/tiny_network.py`` and ``cell_operations.py``), rebuilt here from
plain ``torch.nn``: stem conv3x3+BN (C=16), three stages of N=5 cells separated by residual
reduction blocks, a final BN+ReLU, global average pooling and a linear head.
Every activation is an ``nn.ReLU`` module so forward hooks see it.

Architecture strings use the benchmark's own order, ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``:
the i-th ``+``-separated group lists the edges entering node i+1, each ``op~j`` reading node j.
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

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
N_EDGES = 6
SPACE_SIZE = len(OPS) ** N_EDGES  # 15,625
# (source node, target node) of each of the 6 edges, in string order.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
_ARCH_RE = re.compile(r"^\|([a-z_0-9]+)~0\|\+\|([a-z_0-9]+)~0\|([a-z_0-9]+)~1\|\+"
                      r"\|([a-z_0-9]+)~0\|([a-z_0-9]+)~1\|([a-z_0-9]+)~2\|$")


@dataclass(frozen=True)
class NB201Arch:
    """One NB201 cell: the operation on each of the 6 edges, in string order."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != N_EDGES or any(op not in OPS for op in self.ops):
            raise ValueError(f"NB201 arch needs 6 ops from {OPS}, got {self.ops!r}")

    def __str__(self) -> str:
        return encode(self)


def encode(arch: NB201Arch) -> str:
    """Format an arch as the benchmark string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
    o = arch.ops
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


def decode(text: str) -> NB201Arch:
    """Parse a benchmark string (no eval); raise a one-line ValueError quoting bad input."""
    m = _ARCH_RE.match(text.strip())
    if m is None or any(op not in OPS for op in m.groups()):
        raise ValueError(f"malformed NB201 arch string {text!r}; expected "
                         f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with ops in {OPS}")
    return NB201Arch(tuple(m.groups()))


def from_index_tuple(ops: tuple[int, ...], order: tuple[str, ...]) -> NB201Arch:
    """Build an arch from op indices in string edge order and an op-name table."""
    return NB201Arch(tuple(order[i] for i in ops))


# --------------------------------------------------------------------------- network


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(bias=False) -> BN(affine), NB201's ``ReLUConvBN``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(c_out))


class Zero(nn.Module):
    """The ``none`` op: multiply by zero (keeps the shape, blocks the gradient)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, c: int) -> nn.Module:
    """One cell edge op at stride 1 with c channels in and out (as inside every NB201 cell)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}; valid: {OPS}")


class Cell(nn.Module):
    """NB201 ``InferCell``: node j = sum of ops on edges (i -> j), output = node 3."""

    def __init__(self, arch: NB201Arch, c: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, c) for op in arch.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in (1, 2, 3):
            nodes.append(sum(self.edges[e](nodes[src])
                             for e, (src, dst) in enumerate(EDGES) if dst == target))
        return nodes[3]


class SuperCell(Cell):
    """A supernet cell: every edge a :class:`MixedOp` of its remaining ops, each op seeded by its place."""

    def __init__(self, net: Supernet, c: int, where: object) -> None:
        nn.Module.__init__(self)
        edges = []
        for e, ops in enumerate(net.cells[0]):
            made = {}
            for op in ops:
                with op_seed(net.seed, where, e, op):
                    made[op] = make_op(op, c)
            edges.append(MixedOp(made))
        self.edges = nn.ModuleList(edges)


class ResidualReduction(nn.Module):
    """NB201 ``ResNetBasicblock`` at stride 2: two ReLUConvBN 3x3 + (AvgPool2, Conv1x1) shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2),
                                        nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """NB201 ``TinyNetwork``: stem, 3 x N cells with 2 reductions, BN+ReLU, GAP, linear head."""

    def __init__(self, arch: NB201Arch, num_classes: int = 10, C: int = 16, N: int = 5,
                 cell: Callable[[int, int], nn.Module] | None = None) -> None:
        super().__init__()
        cell = cell or (lambda i, c: Cell(arch, c))  # (cell index, channels) -> cell
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        cells: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage:
                cells.append(ResidualReduction(c, 2 * c))
                c *= 2
            cells.extend(cell(stage * N + k, c) for k in range(N))
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.pool(x).flatten(1))


# --------------------------------------------------------------------------- space


@dataclass(frozen=True)
class NB201Space:
    """The 15,625-cell NAS-Bench-201 space: sample / mutate / build / encode / decode.

    Args:
        C: stem channels (16 in the benchmark).
        N: cells per stage (5 in the benchmark).
    """

    C: int = 16
    N: int = 5
    name: str = "nb201"
    supernet_shape: ClassVar[tuple[int, int, int]] = (1, N_EDGES, len(OPS) - 1)
    """(cell types, edges per cell, ops per edge) of the pruning supernet (``none`` left out, as TE-NAS)."""
    node_inputs: ClassVar[int | None] = None  # every edge keeps one op; no per-node edge rule

    def __len__(self) -> int:
        return SPACE_SIZE

    def arch_at(self, index: int) -> NB201Arch:
        """The arch whose 6 base-5 digits (first edge most significant) equal ``index``."""
        digits = np.base_repr(index, 5).zfill(N_EDGES)
        return NB201Arch(tuple(OPS[int(d)] for d in digits))

    def sample(self, n: int, rng: np.random.Generator) -> list[NB201Arch]:
        """n distinct archs drawn uniformly without replacement."""
        if n > SPACE_SIZE:
            raise ValueError(f"n_archs={n} exceeds the NB201 space size {SPACE_SIZE}")
        return [self.arch_at(int(i)) for i in rng.permutation(SPACE_SIZE)[:n]]  # nested: a prefix of one permutation

    def mutate(self, arch: NB201Arch, rng: np.random.Generator) -> NB201Arch:
        """Change the op on one random edge to a different op."""
        ops = list(arch.ops)
        e = int(rng.integers(N_EDGES))
        ops[e] = str(rng.choice([o for o in OPS if o != ops[e]]))
        return NB201Arch(tuple(ops))

    def crossover(self, a: NB201Arch, b: NB201Arch, rng: np.random.Generator) -> NB201Arch:
        """Each edge's op from either parent."""
        return NB201Arch(tuple(x if rng.random() < 0.5 else y for x, y in zip(a.ops, b.ops, strict=True)))

    def build(self, arch: NB201Arch | Supernet, num_classes: int = 10) -> nn.Module:
        """The standalone network for ``arch`` (PyTorch default init), or a pruning supernet's."""
        if isinstance(arch, Supernet):
            return self.supernet(arch, num_classes)
        return NB201Network(arch, num_classes=num_classes, C=self.C, N=self.N)

    def thin(self, arch: NB201Arch | Supernet, num_classes: int = 10) -> nn.Module:
        """The 1-channel, 1-cell-per-stage copy TE-NAS counts linear regions on (``model_config_thin``)."""
        if isinstance(arch, Supernet):
            return self.supernet(arch, num_classes, C=1, N=1)
        return NB201Network(arch, num_classes=num_classes, C=1, N=1)

    def supernet_start(self, seed: int = 0) -> Supernet:
        """The pruning start: every op but ``none`` on every edge (TE-NAS ``alpha[:, 0] = -INF``)."""
        return Supernet(self.name, (tuple(OPS[1:] for _ in range(N_EDGES)),), seed)

    def supernet(self, net: Supernet, num_classes: int = 10, C: int | None = None, N: int | None = None) -> nn.Module:
        """The TinyNetwork with every edge a mixed op of ``net``'s remaining ops (stem, reductions, head
        drawn from ``net.seed``; each op from its own seed, so pruning changes nothing else)."""
        with op_seed(net.seed, "net"):
            return NB201Network(NB201Arch(("none",) * N_EDGES), num_classes, C or self.C, N or self.N,
                                cell=lambda i, c: SuperCell(net, c, i))

    def supernet_arch(self, net: Supernet) -> NB201Arch:
        """The cell a fully pruned supernet (one op per edge) stands for."""
        if any(len(ops) != 1 for ops in net.cells[0]):
            raise ValueError(f"supernet {net.key()} still has an edge with other than one op")
        return NB201Arch(tuple(ops[0] for ops in net.cells[0]))

    def param_count(self, arch: NB201Arch, num_classes: int = 10) -> int:
        """#params of ``build(arch, num_classes)`` (counted on the meta device: no memory, no init)."""
        with torch.device("meta"):
            return sum(p.numel() for p in self.build(arch, num_classes).parameters())

    @staticmethod
    def encode(arch: NB201Arch | Supernet) -> str:
        """The benchmark string (a supernet: its :meth:`Supernet.key`)."""
        return arch.key() if isinstance(arch, Supernet) else encode(arch)

    decode = staticmethod(decode)
