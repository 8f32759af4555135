"""The search stage of ``zcnas.run`` (``search=evolution|random|prune``): fitness, budget, selection."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.combiners import saved
from zcnas.search.evolution import Evaluate, History, Rank
from zcnas.search.strategies import Search

log = logging.getLogger("zcnas.search")
CALIB_SEED_OFFSET = 10_000
"""The combiner's labelled calibration archs are drawn with ``seed + offset``: apart from the run's own
uniform sample (``seed``), so the fitness is not fitted on the archs the run reports."""
BUDGET_PROBE_ARCHS = 2000
"""Archs sampled (seed 0) to check that the parameter budget can be met before the search starts."""


def fitness(search: Search, proxies: list[str], score: Evaluate, *, space: Any, benchmark: Any = None,
            combiner: Any = None, combiner_name: str = "none", seed: int = 0, task: str = "",
            out_dir: Path | None = None) -> tuple[Rank, Any]:
    """``rank(table)``: a proxy column (``search.fitness=<proxy>``), or ``combiner``: loaded from
    ``search.combiner_from``, else ``combiner`` fitted on ``n_calib`` labelled archs of ``benchmark``
    (drawn with ``seed + CALIB_SEED_OFFSET``, scored with ``score``; a LIBRA one is saved as
    ``out_dir/combiner.json``). Returns the rank function and the combiner (None for a proxy)."""
    if search.fitness in proxies:
        column = search.fitness
        return (lambda t: np.nan_to_num(t[column].to_numpy(float), nan=-np.inf)), None
    if search.fitness != "combiner":
        raise ValueError(f"search.fitness={search.fitness!r} must be one of the proxies {proxies} or 'combiner'")
    if search.combiner_from:  # fitted elsewhere (another benchmark): no labels needed here
        est: Any = saved.load(search.combiner_from)
        est.check_columns(proxies)
        log.info("search fitness: %s from %s (fitted on %s)", est.selected_, search.combiner_from, est.data["fitted_on"])
        return (lambda t: est.predict(t[proxies])), est
    if combiner is None or benchmark is None:
        raise ValueError("search.fitness=combiner needs combiner=<libra|xgboost|...> and a benchmark with labels, "
                         "or a fitted combiner file: search.combiner_from=<combiner.json>")
    target = search.target or benchmark.targets[0]
    calib = [space.decode(a) for a in benchmark.sample(search.n_calib, np.random.default_rng(seed + CALIB_SEED_OFFSET))]
    Z = pd.DataFrame(score(calib))[proxies]
    y = benchmark.lookup([space.encode(a) for a in calib])[target].to_numpy(dtype=float)
    est = combiner.fit(Z, y)
    log.info("search fitness: %s fitted on %d labelled archs (%s)", combiner_name, len(calib),
             getattr(est, "selected_", ""))
    if out_dir is not None and hasattr(est, "selected_") and hasattr(est, "rho_"):  # search.combiner_from=<it>
        saved.save(est, out_dir / "combiner.json", {"space": space.name, "task": task, "benchmark": benchmark.name,
                                                     "target": target, "n_archs": len(calib)})
    return (lambda t: est.predict(t[proxies])), est


def run_search(search: Search, space: Any, score: Evaluate, proxies: list[str], *, num_classes: int, seed: int,
               out_dir: Path, benchmark: Any = None, combiner: Any = None, combiner_name: str = "none",
               task: str = "", space_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Search ``space`` with ``search`` (a :class:`~zcnas.search.strategies.Search`), every candidate scored
    by ``score(archs) -> [{proxy: score}]``; ``combiner`` (unfitted) is the fitness when
    ``search.fitness=combiner``; ``seed`` is the run's (weights, calibration sample), ``num_classes`` sizes
    the archs' heads (#params). Returns the selected arch with its scores (and, where the benchmark
    covers it, its accuracy and rank percentile among all the benchmark's archs); ``space_config`` goes
    with it, so ``python -m zcnas.export`` needs no more."""
    search.check(space)
    checkpoint = Path(search.resume_from) if search.resume_from else out_dir / "search_history.json"
    if search.resume_from:  # checked before any work: a misspelt path never starts a fresh search silently
        if not checkpoint.is_file():
            raise FileNotFoundError(f"search.resume_from={search.resume_from} does not exist; give the "
                                    "search_history.json of the interrupted run, or leave it unset to start anew")
        History.load(checkpoint)  # truncated or foreign files fail here, naming the file
    rank, est = fitness(search, proxies, score, space=space, benchmark=benchmark, combiner=combiner,
                        combiner_name=combiner_name, seed=seed, task=task, out_dir=out_dir)
    budget = search.budget
    if budget is not None:
        sizes = [space.param_count(a, num_classes) / 1e6 for a in space.sample(min(BUDGET_PROBE_ARCHS, len(space)), np.random.default_rng(0))]
        if not any(budget[0] <= p <= budget[1] for p in sizes):
            raise ValueError(f"no architecture of {space.name} meets the parameter budget {budget} M "
                             f"({space.name}'s #params span min {min(sizes):.2f} M, max {max(sizes):.2f} M over {len(sizes)} "
                             "sampled archs): set search.params_min/params_max within it")
    params = lambda a: space.param_count(a, num_classes) / 1e6  # noqa: E731

    found = search.explore(space, score, rank, params=params, init_seed=seed, checkpoint=checkpoint)
    best = found.best
    selected: dict[str, Any] = {"arch": best["arch"], "fitness": found.fitness, "search": search.name,
                                "fitness_by": search.fitness, "n_evaluated": found.n_evaluated,
                                "params_M": params(space.decode(best["arch"])),
                                "scores": {p: float(best[p]) for p in proxies}}
    if space_config is not None:
        selected["space"] = space_config
    selected["num_classes"] = int(num_classes)
    selected.update(found.extra)
    if est is not None and hasattr(est, "selected_"):
        selected["combiner_selected"] = list(est.selected_)
        selected["tags"] = {f"combiner/z{i + 1}": p for i, p in enumerate(est.selected_)}  # MLflow tags
        if search.combiner_from:
            selected["combiner_from"] = str(search.combiner_from)
            selected["combiner_fitted_on"] = est.data["fitted_on"]
    if benchmark is not None and best["arch"] in benchmark.table.index:
        acc = benchmark.table.loc[best["arch"]]
        selected["accuracy"] = {t: float(acc[t]) for t in benchmark.targets}
        selected["rank_percentile"] = {t: float((benchmark.table[t] <= acc[t]).mean() * 100)
                                       for t in benchmark.targets}
        selected["best_in_benchmark"] = {t: float(benchmark.table[t].max()) for t in benchmark.targets}
    log.info("selected %s (fitness %.4g)%s", selected["arch"], selected["fitness"],
             f" accuracy {selected['accuracy']}" if "accuracy" in selected else "")
    return selected
