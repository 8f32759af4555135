"""Zero-shot search over a space, driven by a fitness over all evaluated archs; resumable.

``conf/search/<name>.yaml`` instantiates one of :class:`Evolution`, :class:`RandomSearch`, :class:`Prune`
(:mod:`zcnas.search.strategies`); :func:`zcnas.search.run.run_search` runs it."""

from zcnas.search.evolution import History, evolve, random_search
from zcnas.search.strategies import Evolution, Prune, RandomSearch, Search

__all__ = ["Evolution", "History", "Prune", "RandomSearch", "Search", "evolve", "random_search"]
