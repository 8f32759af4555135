"""Pruned supernets for training-free pruning search (TE-NAS, Chen et al., ICLR 2021, arXiv 2102.11535;
reference VITA-Group/TENAS ``prune_tenas.py`` and ``lib/models/cell_searchs/search_cells.py``).

A :class:`Supernet` lists, for every cell type (NB201: one; DARTS: normal, reduce) and every edge of the
cell, the ops still on it. Its network sums each edge's remaining ops with equal weights (the DARTS
mixed op with all architecture weights at 0, as TE-NAS sets them: softmax over the remaining ops);
an edge with no op left contributes nothing. Every op's weights are drawn from its own seed
(``seed``, cell, edge, op), so a supernet with one op removed has exactly the weights of the one it
was pruned from on everything else (TE-NAS copies the weights over for the same reason).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

PREFIX = "supernet:"
_KEY = re.compile(r"^supernet:([a-z0-9_]+):s(\d+):(.*)$")


@dataclass(frozen=True)
class Supernet:
    """The remaining ops of every edge (``cells[cell type][edge]``) of a ``space`` and its weight seed."""

    space: str
    cells: tuple[tuple[tuple[str, ...], ...], ...]
    seed: int = 0

    def __str__(self) -> str:
        return self.key()

    def key(self) -> str:
        """``supernet:<space>:s<seed>:op+op|op|-/...`` (cells by ``/``, edges by ``|``, ``-``: no op left)."""
        body = "/".join("|".join("+".join(ops) or "-" for ops in cell) for cell in self.cells)
        return f"{PREFIX}{self.space}:s{self.seed}:{body}"

    @classmethod
    def parse(cls, text: str) -> Supernet:
        """Inverse of :meth:`key`; a one-line ValueError on anything else."""
        m = _KEY.match(text.strip())
        if m is None:
            raise ValueError(f"malformed supernet key {text!r}; expected 'supernet:<space>:s<seed>:op+op|op|.../...'")
        cells = tuple(tuple(() if e == "-" else tuple(e.split("+")) for e in c.split("|")) for c in m[3].split("/"))
        return cls(m[1], cells, int(m[2]))

    def without(self, cell: int, edge: int, op: str | None = None) -> Supernet:
        """A copy with ``op`` (or, if None, every op: the whole edge) removed from ``cells[cell][edge]``."""
        cells = [list(c) for c in self.cells]
        cells[cell][edge] = tuple(o for o in cells[cell][edge] if op is not None and o != op)
        return Supernet(self.space, tuple(tuple(c) for c in cells), self.seed)


@contextmanager
def op_seed(*where: object) -> Iterator[None]:
    """Draw the weights built inside from a seed of ``where`` alone; the global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(zlib.crc32(":".join(map(str, where)).encode()))
        yield


class MixedOp(nn.Module):
    """The mean of the remaining ops' outputs (DARTS ``MixedOp`` with uniform weights); ``None`` if none."""

    def __init__(self, ops: dict[str, nn.Module]) -> None:
        super().__init__()
        self.ops = nn.ModuleDict(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor | None:
        if not self.ops:
            return None
        out = [op(x) for op in self.ops.values()]
        return sum(out[1:], out[0]) / len(out)
