"""Combiners: turn a table of proxy scores (archs x proxies) into one score (scikit-learn contract).

No torch here: combiners are fitted on tables, in milliseconds.
"""

from zcnas.combiners.libra import Libra
from zcnas.combiners.rank import AZNASRank, RankAggregate, RankMean
from zcnas.combiners.xgb import XGBCombiner

__all__ = ["AZNASRank", "Libra", "RankAggregate", "RankMean", "XGBCombiner"]
