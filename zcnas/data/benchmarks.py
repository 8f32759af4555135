"""Ground-truth benchmarks: trained accuracy per architecture string, one column per target.

A :class:`Benchmark` is a table indexed by the space's canonical arch string. Targets are never
pooled: every column is correlated on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.data._assets import asset_path

NB201_TARGETS = ("cifar10", "cifar100", "ImageNet16-120")


@dataclass
class Benchmark:
    """Ground truth: ``table`` (index = arch string, one float column per target)."""

    name: str
    table: pd.DataFrame

    @property
    def targets(self) -> list[str]:
        """The target (accuracy column) names."""
        return list(self.table.columns)

    def select(self, target: str | None) -> Benchmark:
        """Keep one target column (``None`` keeps all); unknown names raise a one-line error."""
        if target is None:
            return self
        if target not in self.table.columns:
            raise ValueError(f"benchmark {self.name} has no target {target!r}; valid: {self.targets}")
        return Benchmark(self.name, self.table[[target]])

    def lookup(self, archs: list[str]) -> pd.DataFrame:
        """Rows for ``archs`` in order; archs absent from the benchmark get NaN."""
        return self.table.reindex(archs)


def load_nb201(path: str | None = None, target: str | None = None) -> Benchmark:
    """NAS-Bench-201 200-epoch test accuracies of all 15,625 cells.

    Args:
        path: directory holding ``configs.txt`` and ``<target>_test_accs.npy``; ``None`` uses the
            checksummed copies shipped in ``zcnas/data/assets``.
        target: keep only this column (``cifar10``, ``cifar100`` or ``ImageNet16-120``).
    """
    if path is None:
        files = {name: asset_path(name) for name in
                 ["configs.txt", *(f"{t}_test_accs.npy" for t in NB201_TARGETS)]}
    else:
        root = Path(path)
        files = {name: root / name for name in
                 ["configs.txt", *(f"{t}_test_accs.npy" for t in NB201_TARGETS)]}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"benchmark.path={path} lacks {missing}")
    archs = files["configs.txt"].read_text().split("\n")
    columns = {t: np.load(files[f"{t}_test_accs.npy"], allow_pickle=False) for t in NB201_TARGETS}
    for t, v in columns.items():
        if v.shape != (len(archs),):
            raise ValueError(f"{files[f'{t}_test_accs.npy']}: shape {v.shape}, expected ({len(archs)},)")
    table = pd.DataFrame(columns, index=pd.Index(archs, name="arch"))
    return Benchmark("nb201", table).select(target)
