"""Training-free pruning from the supernet (TE-NAS, Chen, Gong & Wang, ICLR 2021, arXiv 2102.11535;
reference VITA-Group/TENAS ``prune_tenas.py``), with any fitness: a proxy or a combiner.

Start from the supernet with every op (``none`` left out) on every edge. Each round scores, for every
op still on an edge with more than one op, the supernet with that op removed (``repeat`` weight
draws, fitness averaged), then removes on every such edge the ``prune_number`` ops whose removal leaves
the highest fitness, i.e. hurts it least, keeping at least one (TE-NAS ``prune_func_rank``; its
``prune_launch.py`` uses ``prune_number`` 1 on NB201 and 3 on DARTS CIFAR-10; ``scope=global``: only
the single best removal of the round). When one op per edge is left and the space keeps a
fixed number of inputs per node (DARTS: 2), one more kind of round scores the removal of each edge of
every node with too many, and drops the edges whose removal hurts least (TE-NAS
``prune_func_rank_group``, all nodes at once). The fitness of a round is ``rank(table of the round's
candidates)``, so a rank-merged combiner ranks the candidates among themselves.

Checkpointed after every round in the evolution :class:`~zcnas.search.evolution.History` (rows of
every scored candidate with its round, the removal it tried and its repeat); a resume replays the
recorded rounds' decisions and goes on, ending where an uninterrupted run ends.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from zcnas.search.evolution import Evaluate, History, Rank
from zcnas.spaces.supernet import Supernet

log = logging.getLogger(__name__)
REPEAT_SEED_STRIDE = 100_003
"""Repeat r of a round draws the supernet's weights from ``seed + r * stride``."""
SCOPES = ("edge", "global")

Candidate = tuple[int, int, str | None]  # (cell type, edge, op; None: the whole edge)


def spaces_with_supernet() -> list[str]:
    """Names of the spaces a pruning search runs on (those declaring a ``supernet_shape``)."""
    from zcnas.spaces import SPACE_CLASSES  # noqa: PLC0415

    classes: list[Any] = list(SPACE_CLASSES.values())  # each declares supernet_shape (None: no supernet)
    return sorted(c.name for c in classes if c.supernet_shape is not None)


def check_space(space: Any) -> None:
    """One-line error for a space without a supernet, naming those that have one."""
    if space.supernet_shape is None:
        raise ValueError(f"search=prune needs a space with a supernet; {space.name} has none. "
                         f"Spaces with one: {', '.join(spaces_with_supernet())} (space=<name>)")


def planned_evaluations(space_cls: Any, repeat: int = 1, scope: str = "edge", prune_number: int = 1) -> int:
    """Upper bound on the supernets a pruning search scores (plus the found arch), from the space's
    ``supernet_shape`` (cell types, edges, ops) and ``node_inputs``."""
    cells, edges, ops = space_cls.supernet_shape
    n_edges = cells * edges
    if scope == "global":  # every active op on a multi-op edge, one removal a round
        op_rounds = sum(range(n_edges + 1, n_edges * ops + 1))
    else:  # per edge, every op left is scored each round; then prune_number of them go (one stays)
        per_edge, left = 0, ops
        while left > 1:
            per_edge, left = per_edge + left, left - min(prune_number, left - 1)
        op_rounds = n_edges * per_edge
    nodes = getattr(space_cls, "supernet_nodes", ())
    crowded = sum(k for k in (nodes.count(n) for n in set(nodes)) if k > (space_cls.node_inputs or k))
    node_rounds = cells * crowded
    return repeat * (op_rounds + node_rounds) + 1


def candidates(space: Any, net: Supernet, scope: str) -> list[Candidate]:
    """The removals the next round scores (empty: pruning is done)."""
    ops_left = [(c, e, op) for c, cell in enumerate(net.cells) for e, ops in enumerate(cell) if len(ops) > 1
                for op in ops]
    if ops_left:
        return ops_left  # type: ignore[return-value]
    if not space.node_inputs:
        return []
    out: list[Candidate] = []
    for c, cell in enumerate(net.cells):
        for node in sorted(set(space.supernet_nodes)):
            edges = [e for e, n in enumerate(space.supernet_nodes) if n == node and cell[e]]
            if len(edges) > space.node_inputs:
                out += [(c, e, None) for e in edges]
    return out


def decide(space: Any, net: Supernet, cands: list[Candidate], fit: np.ndarray, scope: str,
           prune_number: int = 1) -> Supernet:
    """Apply one round's removals: per edge (``scope=edge``) the ``prune_number`` removals with the
    highest fitness (at most all ops but one), or overall (``global``) the single best; in a node round
    per node all but the ``node_inputs`` edges whose removal hurts most. Ties go to the first candidate
    in the supernet's order."""
    if cands[0][2] is not None:  # op round
        groups: dict[Any, list[int]] = {}
        for i, (c, e, _) in enumerate(cands):
            groups.setdefault((c, e) if scope == "edge" else 0, []).append(i)
        for idx in groups.values():
            k = min(prune_number, len(idx) - 1) if scope == "edge" else 1
            for i in sorted(idx, key=lambda i: -fit[i])[:k]:  # stable: ties keep the supernet's order
                net = net.without(*cands[i])
        return net
    nodes: dict[tuple[int, int], list[int]] = {}
    for i, (c, e, _) in enumerate(cands):
        nodes.setdefault((c, space.supernet_nodes[e]), []).append(i)
    for idx in nodes.values():
        order = sorted(idx, key=lambda i: -fit[i])  # stable: ties keep the supernet's order
        for i in order[:len(idx) - space.node_inputs]:
            net = net.without(cands[i][0], cands[i][1], None)
    return net


def _round_fitness(rows: list[dict[str, Any]], cands: list[Candidate], rank: Rank) -> np.ndarray:
    """Mean fitness over repeats of each candidate, ranked among the round's rows."""
    table = History(rows=rows).table()
    fit = np.asarray(rank(table), dtype=float)
    by: dict[str, list[float]] = {f"{c}/{e}/{op or '*'}": [] for c, e, op in cands}
    for r, f in zip(rows, fit, strict=True):
        by[r["removed"]].append(f)
    return np.array([np.mean(by[f"{c}/{e}/{op or '*'}"]) for c, e, op in cands])


def _nets(net: Supernet, cands: list[Candidate], repeat: int, seed: int) -> list[tuple[int, Candidate, Supernet]]:
    """(repeat, candidate, supernet with it removed, its weights from repeat r's seed) of one round."""
    out = []
    for r in range(repeat):
        for c, e, op in cands:
            n = net.without(c, e, op)
            out.append((r, (c, e, op), Supernet(n.space, n.cells, seed + r * REPEAT_SEED_STRIDE)))
    return out


def prune(space: Any, evaluate: Evaluate, rank: Rank, *, seed: int = 0, repeat: int = 1, scope: str = "edge",
          prune_number: int = 1, checkpoint: Path | None = None) -> tuple[History, Supernet, float]:
    """Prune ``space``'s supernet to one architecture. Returns the history, the final supernet (one op
    per edge, ``space.supernet_arch`` turns it into the arch) and the fitness of the last removal."""
    check_space(space)
    if scope not in SCOPES:
        raise ValueError(f"search.scope={scope!r}; valid: {', '.join(SCOPES)}")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"search.repeat={repeat!r} must be an integer >= 1")
    if isinstance(prune_number, bool) or not isinstance(prune_number, int) or prune_number < 1:
        raise ValueError(f"search.prune_number={prune_number!r} must be an integer >= 1")
    hist = History.load(checkpoint) if checkpoint and checkpoint.is_file() else History()
    net, last = space.supernet_start(seed), float("nan")
    for g in range(hist.generation):  # replay the recorded rounds
        rows = [r for r in hist.rows if r["generation"] == g]
        cands = candidates(space, net, scope)
        if not cands or sorted(r["arch"] for r in rows) != sorted(n.key() for _, _, n in _nets(net, cands, repeat, seed)):
            raise ValueError(f"{checkpoint}: round {g} of this checkpoint does not match the pruning of "
                             f"{space.name} from seed {seed} (another space, seed or search.scope?)")
        fit = _round_fitness(rows, cands, rank)
        net, last = decide(space, net, cands, fit, scope, prune_number), float(np.max(fit))
    if hist.generation:
        log.info("resuming pruning at round %d (%d supernets scored)", hist.generation, len(hist.rows))
    while cands := candidates(space, net, scope):
        nets = _nets(net, cands, repeat, seed)
        scores = evaluate([n for _, _, n in nets])
        rows = [{"arch": n.key(), "generation": hist.generation, "removed": f"{c}/{e}/{op or '*'}", "repeat": r, **s}
                for (r, (c, e, op), n), s in zip(nets, scores, strict=True)]
        fit = _round_fitness(rows, cands, rank)
        net, last = decide(space, net, cands, fit, scope, prune_number), float(np.max(fit))
        hist.rows += rows
        hist.generation += 1
        if checkpoint:
            hist.save(checkpoint)
        left = sum(len(ops) for cell in net.cells for ops in cell)
        log.info("pruning round %d: %d supernets scored, %d ops left", hist.generation, len(cands) * repeat, left)
    return hist, net, last
