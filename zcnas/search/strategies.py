"""The searches ``conf/search/*.yaml`` instantiate (``_target_``): each holds its settings and explores a
space with a score callable and a fitness given at run time (:meth:`Search.explore`).

Strategies: :class:`Evolution` (AutoFormer's, microsoft/Cream ``AutoFormer/lib/evolution.py``),
:class:`RandomSearch` (AZ-NAS / TF-TAS protocol) and :class:`Prune` (TE-NAS, VITA-Group/TENAS
``prune_tenas.py``); the algorithms are in :mod:`zcnas.search.evolution` and :mod:`zcnas.search.prune`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from zcnas.search.evolution import Evaluate, History, Rank, evolve, random_search
from zcnas.search.prune import check_space, planned_evaluations, prune

log = logging.getLogger("zcnas.search")


@dataclass
class Found:
    """What a search ends with: the best evaluated row (``arch`` + proxy scores), its fitness, how many
    archs were scored, strategy-specific fields for ``selected_arch.json`` and the history (every scored
    candidate with its generation: the fitness trajectory)."""

    best: pd.Series
    fitness: float
    n_evaluated: int
    extra: dict[str, Any]
    history: History | None = None


@dataclass
class Search:
    """What every search shares: the fitness (a proxy name or ``combiner``), an optional parameter
    budget in M (``params_min``/``params_max``), the combiner's calibration (``n_calib`` labelled archs,
    fitted to ``target``, or loaded from ``combiner_from``), its own ``seed`` and ``resume_from``
    (a ``search_history.json`` checkpoint)."""

    fitness: str = "lswag"
    params_min: float | None = None
    params_max: float | None = None
    n_calib: int = 100
    target: str | None = None
    combiner_from: str | None = None
    seed: int = 0
    resume_from: str | None = None
    name: ClassVar[str] = "search"
    per_round: ClassVar[bool] = False
    """Whether each generation's fitness is ranked on its own (pruning rounds) rather than over the history."""

    @property
    def budget(self) -> tuple[float, float] | None:
        """``(params_min, params_max)`` in M with open ends filled (0, inf); None without a budget."""
        if self.params_min is None and self.params_max is None:
            return None
        return (self.params_min if self.params_min is not None else 0.0,
                self.params_max if self.params_max is not None else np.inf)

    def check(self, space: Any) -> None:
        """One-line error when this search cannot run on ``space`` (before any work)."""

    def planned(self, space_cls: type) -> int:
        """How many archs the search scores at most (its evaluation budget)."""
        raise NotImplementedError

    def explore(self, space: Any, score: Evaluate, rank: Rank, *, params: Callable[[Any], float], init_seed: int,
                checkpoint: Path) -> Found:
        """Search ``space``: ``score(archs)`` scores new candidates, ``rank(table)`` gives the fitness of
        every row of a table of scored candidates, ``params(arch)`` its size in M; ``init_seed`` is the
        run's seed (weights), the checkpoint is written as the search goes."""
        raise NotImplementedError

    @staticmethod
    def best_of(hist: History, rank: Rank) -> Found:
        """The top of ``rank`` over every evaluated arch."""
        table = hist.table()
        fit = rank(table)
        return Found(table.iloc[int(np.argmax(fit))], float(np.max(fit)), len(table), {}, hist)


@dataclass
class Evolution(Search):
    """AutoFormer's evolution: a random first ``population``, then per generation the top ``parents``
    breed ``mutations`` mutants and ``crossovers`` children (within the budget)."""

    population: int = 50
    generations: int = 20
    parents: int = 10
    mutations: int = 25
    crossovers: int = 25
    name: ClassVar[str] = "evolution"

    def check(self, space: Any) -> None:
        """Sizes that make a search: population and parents >= 1, generations >= 1, mutations/crossovers >= 0,
        parents <= population."""
        for key, lo in (("population", 1), ("generations", 1), ("parents", 1), ("mutations", 0), ("crossovers", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ValueError(f"search.{key}={value!r} must be an integer >= {lo}")
        if self.parents > self.population:
            raise ValueError(f"search.parents={self.parents} exceeds search.population={self.population}")

    def planned(self, space_cls: type) -> int:
        """The first population plus the later generations' mutations and crossovers."""
        return self.population + (self.generations - 1) * (self.mutations + self.crossovers)

    def explore(self, space: Any, score: Evaluate, rank: Rank, *, params: Callable[[Any], float], init_seed: int,
                checkpoint: Path) -> Found:
        """:func:`~zcnas.search.evolution.evolve`, then the best of all evaluated archs."""
        hist = evolve(space, score, rank, population=self.population, generations=self.generations,
                      parents=self.parents, mutations=self.mutations, crossovers=self.crossovers, budget=self.budget,
                      params=params, seed=self.seed, checkpoint=checkpoint)
        return self.best_of(hist, rank)


@dataclass
class RandomSearch(Search):
    """``n`` distinct random archs within the budget; the best by fitness."""

    n: int = 1000
    name: ClassVar[str] = "random"

    def planned(self, space_cls: type) -> int:
        """``n``."""
        return int(self.n)

    def explore(self, space: Any, score: Evaluate, rank: Rank, *, params: Callable[[Any], float], init_seed: int,
                checkpoint: Path) -> Found:
        """:func:`~zcnas.search.evolution.random_search`, then the best of all evaluated archs."""
        hist = random_search(space, score, n=self.n, budget=self.budget, params=params, seed=self.seed,
                             checkpoint=checkpoint)
        return self.best_of(hist, rank)


@dataclass
class Prune(Search):
    """Training-free pruning from the supernet (TE-NAS): ``scope`` edge (``prune_number`` removals per
    edge a round, TE-NAS ``prune_launch.py``: 1 on NB201, 3 on DARTS) or global (one a round); ``repeat``
    weight draws per candidate. The supernet's weights follow the run's seed; the budget is not a
    constraint of pruning (a found arch outside it is warned about)."""

    scope: str = "edge"
    repeat: int = 1
    prune_number: int = 1
    name: ClassVar[str] = "prune"
    per_round: ClassVar[bool] = True

    def check(self, space: Any) -> None:
        """The space must have a supernet (nb201, darts)."""
        check_space(space)

    def planned(self, space_cls: type) -> int:
        """Every round's candidates plus the found arch (0 for a space without a supernet)."""
        cls: Any = space_cls  # every space declares supernet_shape; None: no supernet
        return 0 if cls.supernet_shape is None else planned_evaluations(cls, self.repeat, self.scope, self.prune_number)

    def explore(self, space: Any, score: Evaluate, rank: Rank, *, params: Callable[[Any], float], init_seed: int,
                checkpoint: Path) -> Found:
        """:func:`~zcnas.search.prune.prune`, then the pruned arch scored; its fitness is the last round's."""
        hist, net, last = prune(space, score, rank, seed=init_seed, repeat=self.repeat, scope=self.scope,
                                prune_number=self.prune_number, checkpoint=checkpoint)
        found = space.supernet_arch(net)
        budget = self.budget
        if budget is not None and not budget[0] <= params(found) <= budget[1]:
            log.warning("the pruned arch (%.3f M params) is outside the budget %s M: pruning does not "
                        "constrain #params", params(found), budget)
        (scores,) = score([found])
        return Found(pd.Series({"arch": space.encode(found), **scores}), last, len(hist.rows) + 1,
                     {"fitness_note": "fitness of the last pruning round's chosen supernet",
                      "n_supernets": len(hist.rows)}, hist)
