"""A fitted LIBRA selection as a JSON file (never pickle), so it can be the fitness of a search in a
space or task without labels (``search.fitness=combiner search.combiner_from=<file>``).

The file holds what the selection is: the triplet (z1, z2, z3), each proxy's direction (the sign of
its Spearman ρ with accuracy on the labelled archs it was fitted on), the merge and its normalisation
(``rank``: ranks among the archs being compared; ``zscore``: standardised among them; no statistic of
the calibration benchmark is carried over, as proxy scales differ between spaces), plus where it was
fitted (space, task, benchmark, target, protocol, #archs and a digest of their strings, zcnas version)
and the ρ it had there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.combiners.rank import MERGES, merge
from zcnas.results import read_json

FORMAT = "zcnas-combiner"
VERSION = 1
_KEYS = {"format", "version", "combiner", "selected", "directions", "merge", "normalisation", "rho", "fitted_on"}


def archs_digest(archs: Iterable[str]) -> str:
    """sha256 of the sorted arch strings a combiner was fitted on (provenance: which archs, not only how many)."""
    return hashlib.sha256("\n".join(sorted(map(str, archs))).encode()).hexdigest()


def to_dict(est: Any, fitted_on: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a fitted selection combiner (LIBRA: ``selected_``, ``rho_``, ``merge``); ``fitted_on``
    gains the zcnas version."""
    from zcnas import __version__  # noqa: PLC0415

    if not all(hasattr(est, a) for a in ("selected_", "rho_", "directions_")):
        raise ValueError(f"only a fitted LIBRA selection can be saved as JSON, not {type(est).__name__}")
    rho = {p: float(est.rho_[p]) for p in est.selected_}
    return {"format": FORMAT, "version": VERSION, "combiner": "libra", "selected": list(est.selected_),
            "directions": {p: int(est.directions_[p]) for p in est.selected_}, "merge": est.merge,
            "normalisation": "zscore" if est.merge == "zscore" else "rank", "rho": rho, "fitted_on": {**fitted_on, "zcnas_version": __version__}}


def save(est: Any, path: Path, fitted_on: dict[str, Any]) -> dict[str, Any]:
    """Write :func:`to_dict` to ``path`` (atomically); return it."""
    data = to_dict(est, fitted_on)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
    return data


def save_selection(est: Any, path: Path, fitted_on: dict[str, Any], archs: Iterable[str]) -> Path | None:
    """Save ``est`` when it is a fitted selection (LIBRA), with the #archs it was fitted on and their digest
    (:func:`archs_digest`) in ``fitted_on``; a combiner JSON cannot hold (XGBoost, rank means): None."""
    if not all(hasattr(est, a) for a in ("selected_", "rho_", "directions_", "merge")):
        return None
    archs = [str(a) for a in archs]
    save(est, path, {**fitted_on, "n_archs": len(archs), "archs_sha256": archs_digest(archs)})
    return path


class SavedCombiner:
    """A selection read back from JSON: ``predict(Z)`` merges the selected columns, each times its
    direction (higher = better), exactly as the fitted LIBRA does."""

    def __init__(self, data: dict[str, Any], path: Path, option: str = "search.combiner_from") -> None:
        self.data, self.path, self.option = data, path, option
        self.selected_: list[str] = list(data["selected"])
        self.directions = {p: int(data["directions"][p]) for p in self.selected_}
        self.merge: str = data["merge"]

    def check_columns(self, columns: list[str]) -> None:
        """One-line error naming the selected proxies the run does not compute."""
        missing = [p for p in self.selected_ if p not in columns]
        if missing:
            raise ValueError(f"{self.option}={self.path} was fitted on {self.selected_}; this run does not "
                             f"compute {', '.join(missing)}: add them, e.g. proxy=[{','.join(self.selected_)}]")

    def predict(self, Z: pd.DataFrame) -> np.ndarray:
        """Merged score of the selected proxies (higher = better)."""
        self.check_columns(list(Z.columns))
        return merge(pd.DataFrame({p: Z[p].to_numpy(float) * self.directions[p] for p in self.selected_}), self.merge)

    def provenance(self) -> str:
        """``[a, b, c] (directions {...}, log_rank merge), fitted on {...}``: what a run applying it says."""
        return (f"{self.selected_} (directions {self.directions}, {self.merge} merge), fitted on "
                f"{self.data.get('fitted_on')}")

    def tags(self) -> dict[str, str]:
        """Where it came from, as flat MLflow tags (``combiner_from``, ``combiner_from_<fitted_on key>``)."""
        fitted = self.data.get("fitted_on") or {}
        return {"combiner_from": str(self.path), "combiner_from_selected": ",".join(self.selected_),
                **{f"combiner_from_{k}": str(v) for k, v in fitted.items() if isinstance(v, str | int | float)}}


def load(path: str | Path, option: str = "search.combiner_from") -> SavedCombiner:
    """Read a combiner JSON as data; a missing, corrupt or foreign file is a one-line error naming it (and the
    ``option`` that gave it)."""
    path = Path(path)
    data = read_json(path, f"{option}={path} does not exist; give the combiner.json a fitting run "
                           "wrote (python -m zcnas.run ... search.fitness=combiner, or python -m zcnas.combine)",
                     f"{option}={path}: not readable JSON ({{err}}); truncated? "
                     "Refit it or give an intact copy")
    if not isinstance(data, dict) or data.get("format") != FORMAT or not _KEYS <= set(data):
        raise ValueError(f"{option}={path}: not a zcnas combiner file (needs format={FORMAT!r} and "
                         f"keys {sorted(_KEYS)})")
    sel, dirs = data["selected"], data["directions"]
    ok = (data["version"] == VERSION and isinstance(sel, list) and 0 < len(sel) <= 3
          and all(isinstance(p, str) for p in sel) and isinstance(dirs, dict)
          and all(dirs.get(p) in (1, -1) for p in sel) and data["merge"] in MERGES)
    if not ok:
        raise ValueError(f"{option}={path}: malformed (version {VERSION}, selected: 1-3 proxy names, "
                         f"directions: +1/-1 for each, merge one of {', '.join(MERGES)})")
    return SavedCombiner(data, path, option)
