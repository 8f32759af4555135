"""Zero-shot search over a space, driven by a fitness over all evaluated archs; resumable."""

from zcnas.search.evolution import History, evolve, random_search

__all__ = ["History", "evolve", "random_search"]
