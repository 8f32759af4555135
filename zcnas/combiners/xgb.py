"""XGBoost over proxy scores, the NAS-Bench-Suite-Zero protocol (Krishnakumar et al., NeurIPS 2022
D&B, arXiv 2210.03230; ``automl/NASLib`` zero-cost predictor): standardised targets, 500 rounds,
depth 6, η 0.3, trained on labelled archs (400 by default in their protocol).

Not zero-shot: it needs trained networks. LIBRA-NAS excludes it from its comparison for that reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from zcnas.combiners.rank import usable_columns


def _features(Z: pd.DataFrame) -> np.ndarray:
    """Float matrix with ±inf turned into NaN (XGBoost's missing value)."""
    x = np.array(Z.to_numpy(float), copy=True)  # pandas may hand out a read-only view
    x[~np.isfinite(x)] = np.nan
    return x


class XGBCombiner(BaseEstimator):
    """Gradient-boosted regression from proxy scores to standardised accuracy.

    Args:
        n_estimators: boosting rounds.
        max_depth: tree depth.
        learning_rate: η.
        random_state: seed.
        min_train: fewer labelled archs than this raise a one-line error.
    """

    def __init__(self, n_estimators: int = 500, max_depth: int = 6, learning_rate: float = 0.3,
                 random_state: int = 0, min_train: int = 10) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.min_train = min_train

    def check_columns(self, columns: list[str]) -> None:
        """Before any scoring: xgboost must be installed (the ``xgb`` extra)."""
        from zcnas.cli import need  # noqa: PLC0415

        need("xgboost", "xgb", "combiner=xgboost")

    def fit(self, Z: pd.DataFrame, y: np.ndarray) -> XGBCombiner:
        """Fit on the labelled table; ``feature_importances_`` maps proxy -> gain share."""
        self.check_columns(list(Z.columns))
        import xgboost as xgb  # noqa: PLC0415

        y = np.asarray(y, dtype=float)
        if len(y) < self.min_train:
            raise ValueError(f"XGBoost combiner needs at least {self.min_train} labelled archs, got {len(y)}")
        self.columns_ = usable_columns(Z, y)
        ok = np.isfinite(y)
        self.y_mean_, self.y_std_ = float(y[ok].mean()), float(y[ok].std())
        self.booster_ = xgb.XGBRegressor(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                         learning_rate=self.learning_rate, random_state=self.random_state,
                                         n_jobs=1, tree_method="hist")
        self.booster_.fit(_features(Z.loc[ok, self.columns_]), (y[ok] - self.y_mean_) / self.y_std_)
        self.feature_importances_ = pd.Series(self.booster_.feature_importances_, index=self.columns_)
        return self

    def predict(self, Z: pd.DataFrame) -> np.ndarray:
        """Predicted accuracy (de-standardised)."""
        check_is_fitted(self)
        return self.booster_.predict(_features(Z[self.columns_])) * self.y_std_ + self.y_mean_
