"""NAS-Bench-101 cell space (Ying et al., ICML 2019, arXiv 1902.09635).

A cell is a DAG of at most 7 vertices (input, up to 5 operations, output) given by an upper-triangular
0/1 adjacency matrix and one op per vertex from conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3. The
network is the benchmark's own (google-research/nasbench ``nasbench/lib/model_builder.py`` and
``base_ops.py``; checked against NASLib's PyTorch port ``naslib/search_spaces/nasbench101/``), rebuilt
from plain ``torch.nn``: a 3x3 conv-bn-relu stem with 128 channels, 3 stacks of 3 cells, a 2x2 max
pool and channel doubling before stacks 2 and 3, global average pooling and a linear head.

Inside a cell (``build_module``): the output channels are split evenly over the vertices feeding
the output (the first ``C mod k`` get one extra), every other vertex takes the max of its successors'
channels; a vertex sums its interior inputs (truncated to its channel count) and a 1x1
conv-bn-relu projection of the cell input; the output concatenates its interior inputs and adds a
projection of the cell input when the input feeds it directly.

Validity as in ``nasbench/lib/model_spec.py`` and ``api.py``: vertices not on an input-to-output path
are pruned; the pruned cell must connect input to output and have at most 9 edges.

String form: NASLib's / NAS-Bench-Suite-Zero's key, ``(a00, a01, ..., a66, o0, ..., o6)``: the
flattened (unpruned) n x n adjacency matrix then n op indices over
``[input, output, maxpool3x3, conv1x1-bn-relu, conv3x3-bn-relu]`` (``convert_spec_to_tuple``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

INPUT, OUTPUT = "input", "output"
CONV3X3, CONV1X1, MAXPOOL3X3 = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
KEY_OPS: tuple[str, ...] = (INPUT, OUTPUT, MAXPOOL3X3, CONV1X1, CONV3X3)  # NASLib's op indices
MAX_VERTICES = 7
MAX_EDGES = 9
_KEY_RE = re.compile(r"^\(\s*\d+(\s*,\s*\d+)*\s*\)$")


def prune(matrix: np.ndarray, ops: list[str]) -> tuple[np.ndarray, list[str]] | None:
    """Drop vertices not on an input-to-output path (``ModelSpec._prune``); None if input and output
    are disconnected."""
    n = len(matrix)
    from_input, stack = {0}, [0]
    while stack:
        top = stack.pop()
        for v in range(top + 1, n):
            if matrix[top, v] and v not in from_input:
                from_input.add(v)
                stack.append(v)
    to_output, stack = {n - 1}, [n - 1]
    while stack:
        top = stack.pop()
        for v in range(top):
            if matrix[v, top] and v not in to_output:
                to_output.add(v)
                stack.append(v)
    keep = sorted(from_input & to_output)
    if len(keep) < 2:
        return None
    return matrix[np.ix_(keep, keep)], [ops[i] for i in keep]


@dataclass(frozen=True)
class NB101Arch:
    """One NB101 cell as given (unpruned): adjacency rows and per-vertex op names (input ... output).

    Construction checks it (one-line ValueError quoting it); :attr:`pruned` is what the network builds.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        check(self.matrix, self.ops)

    @property
    def pruned(self) -> tuple[np.ndarray, list[str]]:
        """The pruned adjacency matrix and ops (``ModelSpec.matrix`` / ``.ops``)."""
        out = prune(np.array(self.matrix, dtype=np.int64), list(self.ops))
        assert out is not None  # checked at construction
        return out

    def __str__(self) -> str:
        return encode(self)


def check(matrix: tuple[tuple[int, ...], ...], ops: tuple[str, ...]) -> None:
    """Raise a one-line ValueError quoting the cell unless it is a valid NB101 cell (``api._check_spec``)."""
    quoted = f"matrix={[list(r) for r in matrix]} ops={list(ops)}"
    n = len(matrix)
    if n < 2 or any(len(r) != n for r in matrix):
        raise ValueError(f"invalid NB101 cell {quoted}: the adjacency matrix must be square, 2..7 vertices")
    if n > MAX_VERTICES:
        raise ValueError(f"invalid NB101 cell {quoted}: {n} vertices > {MAX_VERTICES}")
    if len(ops) != n:
        raise ValueError(f"invalid NB101 cell {quoted}: {len(ops)} ops for {n} vertices")
    m = np.array(matrix)
    if not np.isin(m, (0, 1)).all():
        raise ValueError(f"invalid NB101 cell {quoted}: adjacency entries must be 0 or 1")
    if np.tril(m).any():
        raise ValueError(f"invalid NB101 cell {quoted}: the adjacency matrix must be strictly upper-triangular")
    if ops[0] != INPUT or ops[-1] != OUTPUT or any(o not in OPS for o in ops[1:-1]):
        raise ValueError(f"invalid NB101 cell {quoted}: ops must be input, {{{', '.join(OPS)}}}..., output")
    pruned = prune(m, list(ops))
    if pruned is None:
        raise ValueError(f"invalid NB101 cell {quoted}: the output is not reachable from the input")
    if int(pruned[0].sum()) > MAX_EDGES:
        raise ValueError(f"invalid NB101 cell {quoted}: {int(pruned[0].sum())} edges after pruning > {MAX_EDGES}")


def encode(arch: NB101Arch) -> str:
    """The Suite-Zero / NASLib key: flattened adjacency then op indices over :data:`KEY_OPS`."""
    values = [v for row in arch.matrix for v in row] + [KEY_OPS.index(o) for o in arch.ops]
    return "(" + ", ".join(str(v) for v in values) + ")"


def decode(text: str) -> NB101Arch:
    """Parse a Suite-Zero / NASLib key (no eval): n*n adjacency entries then n op indices."""
    if not _KEY_RE.match(text.strip()):
        raise ValueError(f"malformed NB101 arch key {text!r}; expected '(a00, a01, ..., o0, ..., o6)': "
                         "the flattened n x n adjacency matrix then n op indices")
    values = [int(v) for v in text.strip()[1:-1].split(",")]
    n = math.isqrt(4 * len(values) + 1) // 2  # n*n + n values
    if n * n + n != len(values) or max(values[n * n:]) >= len(KEY_OPS):
        raise ValueError(f"malformed NB101 arch key {text!r}; expected n*n adjacency entries then n op "
                         f"indices in 0..{len(KEY_OPS) - 1} ({', '.join(KEY_OPS)})")
    matrix = tuple(tuple(values[i * n:(i + 1) * n]) for i in range(n))
    return NB101Arch(matrix, tuple(KEY_OPS[i] for i in values[n * n:]))


def vertex_channels(c_in: int, c_out: int, matrix: np.ndarray) -> list[int]:
    """Channels of each vertex (``compute_vertex_channels``): the output's split over its in-edges
    (remainder to the first), other vertices the max of their successors'."""
    n = len(matrix)
    ch = [0] * n
    ch[0], ch[-1] = c_in, c_out
    if n == 2:
        return ch
    fan_in = int(matrix[1:, -1].sum())
    per, extra = divmod(c_out, fan_in)
    for v in range(1, n - 1):
        if matrix[v, -1]:
            ch[v] = per + (1 if extra else 0)
            extra -= bool(extra)
    for v in range(n - 3, 0, -1):
        if not matrix[v, -1]:
            ch[v] = max([ch[v]] + [ch[d] for d in range(v + 1, n - 1) if matrix[v, d]])
    return ch


class ConvBnRelu(nn.Sequential):
    """Conv (no bias, 'same' padding) -> BN -> ReLU (``base_ops.conv_bn_relu``; BN momentum 0.997, eps 1e-5)."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out, eps=1e-5, momentum=0.003), nn.ReLU(inplace=False))


def make_op(name: str, c: int) -> nn.Module:
    """The op of one interior vertex with ``c`` channels in and out."""
    if name == CONV3X3:
        return ConvBnRelu(c, c, 3)
    if name == CONV1X1:
        return ConvBnRelu(c, c, 1)
    return nn.MaxPool2d(3, stride=1, padding=1)


class Cell(nn.Module):
    """One NB101 module (``build_module``) from the pruned matrix and ops."""

    def __init__(self, matrix: np.ndarray, ops: list[str], c_in: int, c_out: int) -> None:
        super().__init__()
        self.matrix = matrix
        self.n = n = len(matrix)
        self.ch = ch = vertex_channels(c_in, c_out, matrix)
        self.ops = nn.ModuleList(make_op(ops[t], ch[t]) for t in range(1, n - 1))
        # 1x1 projections of the cell input into every vertex it feeds (the output too)
        self.proj = nn.ModuleDict({str(t): ConvBnRelu(c_in, ch[t], 1) for t in range(1, n) if matrix[0, t]})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, n, ch = self.matrix, self.n, self.ch
        tensors = [x]
        concat = []
        for t in range(1, n - 1):
            add = [tensors[s][:, :ch[t]] for s in range(1, t) if m[s, t]]
            if m[0, t]:
                add.append(self.proj[str(t)](x))
            tensors.append(self.ops[t - 1](sum(add[1:], add[0])))
            if m[t, n - 1]:
                concat.append(tensors[t])
        if not concat:
            return self.proj[str(n - 1)](x)
        out = torch.cat(concat, 1) if len(concat) > 1 else concat[0]
        return out + self.proj[str(n - 1)](x) if m[0, n - 1] else out


class Downsample(nn.Module):
    """The 2x2 stride-2 max pool before stacks 2 and 3 (a module of its own so AZ-NAS sees it as a block)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


class NB101Network(nn.Module):
    """The NB101 network (``build_model_fn``): stem, stacks of cells with downsampling, GAP, linear head."""

    def __init__(self, arch: NB101Arch, num_classes: int = 10, stem: int = 128, stacks: int = 3,
                 cells: int = 3) -> None:
        super().__init__()
        matrix, ops = arch.pruned
        self.stem = ConvBnRelu(3, stem, 3)
        layers: list[nn.Module] = []
        c = stem
        for s in range(stacks):
            c_out = c
            if s:
                layers.append(Downsample())
                c_out = 2 * c
            for _ in range(cells):
                layers.append(Cell(matrix, ops, c, c_out))
                c = c_out
        self.cells = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.cells(self.stem(x))).flatten(1))


@dataclass(frozen=True)
class NB101Space:
    """The NAS-Bench-101 space (423,624 unique cells): sample / mutate / build / encode / decode.

    Args:
        stem: stem channels (128 in the benchmark).
        stacks: stacks of cells (3).
        cells: cells per stack (3).
    """

    supernet_shape: ClassVar[tuple[int, int, int] | None] = None  # no supernet: search=prune does not apply
    stem: int = 128
    stacks: int = 3
    cells: int = 3
    name: str = "nb101"

    def __len__(self) -> int:
        return 423_624  # unique (isomorphism-free) valid cells, NAS-Bench-101 paper §2.3

    def _random(self, rng: np.random.Generator) -> NB101Arch:
        """A uniformly random valid 7-vertex spec (the nasbench Colab's ``random_spec``)."""
        while True:
            m = np.triu(rng.integers(0, 2, (MAX_VERTICES, MAX_VERTICES)), 1)
            ops = [INPUT, *(OPS[i] for i in rng.integers(0, len(OPS), MAX_VERTICES - 2)), OUTPUT]
            pruned = prune(m, ops)
            if pruned is not None and pruned[0].sum() <= MAX_EDGES:
                return NB101Arch(tuple(tuple(int(v) for v in r) for r in m), tuple(ops))

    @staticmethod
    def _pruned_key(arch: NB101Arch) -> tuple[bytes, tuple[str, ...]]:
        m, ops = arch.pruned
        return m.tobytes(), tuple(ops)

    def sample(self, n: int, rng: np.random.Generator) -> list[NB101Arch]:
        """n cells with distinct pruned specs, each a uniformly random valid 7-vertex spec."""
        out: dict[tuple[bytes, tuple[str, ...]], NB101Arch] = {}
        while len(out) < n:
            a = self._random(rng)
            out.setdefault(self._pruned_key(a), a)
        return list(out.values())

    def mutate(self, arch: NB101Arch, rng: np.random.Generator) -> NB101Arch:
        """nasbench's ``mutate_spec``: flip each edge w.p. 1/7, resample each op w.p. 1/5; until valid."""
        m0 = np.array(arch.matrix)
        n = len(m0)
        while True:
            m, ops = m0.copy(), list(arch.ops)
            for s in range(n - 1):
                for d in range(s + 1, n):
                    if rng.random() < 1 / n:
                        m[s, d] = 1 - m[s, d]
            for i in range(1, n - 1):
                if rng.random() < 1 / (n - 2):
                    ops[i] = str(rng.choice([o for o in OPS if o != ops[i]]))
            pruned = prune(m, ops)
            if pruned is not None and pruned[0].sum() <= MAX_EDGES:
                return NB101Arch(tuple(tuple(int(v) for v in r) for r in m), tuple(ops))

    def crossover(self, a: NB101Arch, b: NB101Arch, rng: np.random.Generator) -> NB101Arch:
        """Each adjacency entry and op from either parent (7-vertex parents); the first valid of 100 draws, else ``a``."""
        if len(a.matrix) != len(b.matrix):
            return a
        ma, mb = np.array(a.matrix), np.array(b.matrix)
        for _ in range(100):
            m = np.where(rng.random(ma.shape) < 0.5, ma, mb)
            ops = [x if rng.random() < 0.5 else y for x, y in zip(a.ops, b.ops, strict=True)]
            pruned = prune(m, ops)
            if pruned is not None and pruned[0].sum() <= MAX_EDGES:
                return NB101Arch(tuple(tuple(int(v) for v in r) for r in m), tuple(ops))
        return a

    def build(self, arch: NB101Arch, num_classes: int = 10) -> nn.Module:
        """The NB101 network for ``arch`` (PyTorch default init)."""
        return NB101Network(arch, num_classes, self.stem, self.stacks, self.cells)

    def param_count(self, arch: NB101Arch, num_classes: int = 10) -> int:
        """Closed-form #params of ``build(arch, num_classes)`` (conv k*k*c*c' + BN 2c' per conv-bn-relu)."""
        matrix, ops = arch.pruned
        kernel = {CONV3X3: 3, CONV1X1: 1}
        n = 27 * self.stem + 2 * self.stem
        c = self.stem
        for s in range(self.stacks):
            c_out = 2 * c if s else c
            for _ in range(self.cells):
                ch = vertex_channels(c, c_out, matrix)
                n += sum(kernel[o] ** 2 * ch[t] ** 2 + 2 * ch[t] for t, o in enumerate(ops) if o in kernel)
                n += sum(c * ch[t] + 2 * ch[t] for t in range(1, len(ops)) if matrix[0, t])
                c = c_out
        return n + c * num_classes + num_classes

    encode = staticmethod(encode)
    decode = staticmethod(decode)
