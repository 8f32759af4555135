"""AutoFormer's evolutionary search (microsoft/Cream ``AutoFormer/lib/evolution.py``) and random
search under a parameter budget (AZ-NAS / TF-TAS protocol), both resumable.

The search is proxy-agnostic: ``evaluate(archs) -> list[dict]`` scores new candidates (a row of
proxy scores each) and ``rank(table) -> array`` turns the table of *all* evaluated candidates into
one fitness per row, so rank-merged combiners (LIBRA) are re-ranked as the history grows.
The state (history, generation, RNG state) is checkpointed as JSON after every
generation; a rerun with the same checkpoint resumes and ends exactly where an uninterrupted run
would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
Evaluate = Callable[[list[Any]], list[dict[str, float]]]
Rank = Callable[[pd.DataFrame], np.ndarray]


@dataclass
class History:
    """Everything evaluated so far: ``rows`` (arch string, generation, scores), the next ``generation``
    and the RNG state (the next parents come from ``rows``, ranked anew)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    generation: int = 0
    rng_state: Mapping[str, Any] | None = None

    def table(self) -> pd.DataFrame:
        """The evaluated candidates as a DataFrame (one row per arch)."""
        return pd.DataFrame(self.rows)

    def save(self, path: Path) -> None:
        """Write atomically (tmp file + rename), so a kill never leaves a torn checkpoint."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> History:
        """Read a checkpoint written by :meth:`save`, as data: its keys and their types are checked
        (nothing in it is instantiated); a missing, truncated or foreign file is a one-line error
        naming it."""
        from zcnas.results import read_json  # noqa: PLC0415

        data = read_json(path, f"search checkpoint {path} does not exist; give the search_history.json "
                               "a search wrote, or leave search.resume_from unset to start a new search",
                         f"{path}: not a readable search checkpoint ({{err}}); truncated? "
                         "Rerun without search.resume_from or give an intact copy")
        if isinstance(data, dict):
            data.pop("population", None)  # written by earlier versions, never read
        keys = [f.name for f in fields(cls)]
        if not isinstance(data, dict) or set(data) != set(keys):
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"{path}: not a search checkpoint written by zcnas (keys {got}, expected {keys})")
        ok = (isinstance(data["rows"], list) and all(isinstance(r, dict) and isinstance(r.get("arch"), str)
                                                    for r in data["rows"])
              and isinstance(data["generation"], int) and not isinstance(data["generation"], bool)
              and data["generation"] >= 0 and (data["rng_state"] is None or isinstance(data["rng_state"], dict)))
        if not ok:
            raise ValueError(f"{path}: a search checkpoint with malformed values (rows: list of {{arch: str, ...}}, "
                             "generation: int >= 0, rng_state: object or null)")
        return cls(**data)


def _within(arch: Any, budget: tuple[float, float] | None, params: Callable[[Any], float]) -> bool:
    return budget is None or budget[0] <= params(arch) <= budget[1]


def _rng(hist: History, seed: int) -> np.random.Generator:
    rng = np.random.default_rng(seed)
    if hist.rng_state is not None:
        try:
            rng.bit_generator.state = hist.rng_state
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"the search checkpoint's rng_state is not a numpy PCG64 state ({err})") from None
    return rng


def _draw(space: Any, n: int, rng: np.random.Generator, budget: tuple[float, float] | None,
          params: Callable[[Any], float], seen: set[str], max_tries: int = 100_000) -> list[Any]:
    out: list[Any] = []
    for _ in range(max_tries):
        if len(out) == n:
            return out
        (arch,) = space.sample(1, rng)
        key = space.encode(arch)
        if key not in seen and _within(arch, budget, params):
            seen.add(key)
            out.append(arch)
    raise ValueError(f"could only draw {len(out)} of {n} new archs within the parameter budget {budget}")


def _score_new(hist: History, space: Any, archs: list[Any], evaluate: Evaluate) -> None:
    for arch, scores in zip(archs, evaluate(archs), strict=True):
        hist.rows.append({"arch": space.encode(arch), "generation": hist.generation, **scores})


def evolve(space: Any, evaluate: Evaluate, rank: Rank, *, population: int = 50, generations: int = 20,
           parents: int = 10, mutations: int = 25, crossovers: int = 25,
           budget: tuple[float, float] | None = None, params: Callable[[Any], float] = lambda a: 0.0,
           seed: int = 0, checkpoint: Path | None = None) -> History:
    """AutoFormer evolution: random initial population, then per generation the top ``parents`` by
    fitness breed ``mutations`` mutants and ``crossovers`` children (within the parameter budget).

    Returns the history; the best arch is the top of ``rank(history.table())``.
    """
    hist = History.load(checkpoint) if checkpoint and checkpoint.is_file() else History()
    if hist.generation:
        log.info("resuming evolution at generation %d (%d archs evaluated)", hist.generation, len(hist.rows))
    rng = _rng(hist, seed)
    seen = {r["arch"] for r in hist.rows}
    while hist.generation < generations:
        if hist.generation == 0:
            new = _draw(space, population, rng, budget, params, seen)
        else:
            table = hist.table()
            fit = pd.Series(rank(table), index=table["arch"])
            top = [space.decode(a) for a in fit.sort_values(ascending=False).index[:parents]]
            new = []
            for kind, count in (("mutate", mutations), ("cross", crossovers)):
                tries = 0
                while count and tries < 100 * (count + 1):
                    tries += 1
                    child = (space.mutate(top[rng.integers(len(top))], rng) if kind == "mutate"
                             else _cross(space, top, rng))
                    key = space.encode(child) if child is not None else None
                    if key and key not in seen and _within(child, budget, params):
                        seen.add(key)
                        new.append(child)
                        count -= 1
        _score_new(hist, space, new, evaluate)
        hist.generation += 1
        hist.rng_state = rng.bit_generator.state
        if checkpoint:
            hist.save(checkpoint)
        log.info("generation %d/%d: %d archs evaluated", hist.generation, generations, len(hist.rows))
    return hist


def _cross(space: Any, top: list[Any], rng: np.random.Generator) -> Any | None:
    a, b = (top[i] for i in rng.choice(len(top), 2, replace=False))
    try:
        return space.crossover(a, b, rng)
    except ValueError:  # AutoFormer: parents of different depth cannot be crossed; draw again
        return None


def random_search(space: Any, evaluate: Evaluate, *, n: int = 1000, budget: tuple[float, float] | None = None,
                  params: Callable[[Any], float] = lambda a: 0.0, seed: int = 0, batch: int = 50,
                  checkpoint: Path | None = None) -> History:
    """``n`` distinct random archs within the parameter budget, scored in checkpointed batches."""
    hist = History.load(checkpoint) if checkpoint and checkpoint.is_file() else History()
    rng = _rng(hist, seed)
    seen = {r["arch"] for r in hist.rows}
    while len(hist.rows) < n:
        _score_new(hist, space, _draw(space, min(batch, n - len(hist.rows)), rng, budget, params, seen), evaluate)
        hist.generation += 1
        hist.rng_state = rng.bit_generator.state
        if checkpoint:
            hist.save(checkpoint)
    return hist
