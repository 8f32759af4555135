"""The search stage of ``zcnas.run`` (``search=evolution|random|prune``): fitness, budget, selection."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.combiners import saved
from zcnas.plan import FitnessPlan
from zcnas.search.evolution import Evaluate, History, Rank
from zcnas.search.strategies import Search

log = logging.getLogger("zcnas.search")
CALIB_SEED_OFFSET = 10_000
"""The combiner's labelled calibration archs are drawn with ``seed + offset``: apart from the run's own
uniform sample (``seed``), so the fitness is not fitted on the archs the run reports."""
BUDGET_PROBE_ARCHS = 2000
"""Archs sampled (seed 0) to check that the parameter budget can be met before the search starts."""


@dataclass(frozen=True)
class Selection:
    """A search's pick: the arch, its fitness, scores, size and trajectory, the combiner that ranked it and (where
    the benchmark covers it) its accuracy; :meth:`to_json` is ``selected_arch.json`` (``python -m zcnas.export``
    needs nothing more: ``space`` is the run's space config)."""

    arch: str
    fitness: float
    search: str
    fitness_by: str
    n_evaluated: int
    params_M: float
    scores: dict[str, float]
    trajectory: list[dict[str, Any]]
    num_classes: int
    flops_M: float | None = None
    space: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """The strategy's own fields (:attr:`~zcnas.search.strategies.Found.extra`)."""
    combiner_selected: list[str] | None = None
    combiner_from: str | None = None
    combiner_fitted_on: dict[str, Any] | None = None
    accuracy: dict[str, float] | None = None
    rank_percentile: dict[str, float] | None = None
    best_in_benchmark: dict[str, float] | None = None

    @property
    def tags(self) -> dict[str, str]:
        """MLflow tags naming the combiner's picks: ``combiner/z1`` .. (none without a selecting combiner)."""
        return {f"combiner/z{i + 1}": p for i, p in enumerate(self.combiner_selected or [])}

    def to_json(self) -> dict[str, Any]:
        """``selected_arch.json``: the fields in a fixed order, the unset ones left out."""
        head = {"arch": self.arch, "fitness": self.fitness, "search": self.search, "fitness_by": self.fitness_by,
                "n_evaluated": self.n_evaluated, "params_M": self.params_M, "flops_M": self.flops_M,
                "scores": self.scores, "trajectory": self.trajectory, "space": self.space, "num_classes": self.num_classes}
        tail = {"combiner_selected": self.combiner_selected,
                "tags": self.tags if self.combiner_selected is not None else None,
                "combiner_from": self.combiner_from, "combiner_fitted_on": self.combiner_fitted_on,
                "accuracy": self.accuracy, "rank_percentile": self.rank_percentile,
                "best_in_benchmark": self.best_in_benchmark}
        return {k: v for k, v in head.items() if v is not None} | self.extra | {k: v for k, v in tail.items()
                                                                                  if v is not None}


def fitness(plan: FitnessPlan, proxies: list[str], score: Evaluate, *, space: Any, benchmark: Any = None,
            seed: int = 0, task: str = "", out_dir: Path | None = None) -> tuple[Rank, Any]:
    """``rank(table)`` of :class:`~zcnas.plan.FitnessPlan` ``plan``: a proxy column, or a combiner: loaded from
    ``plan.combiner_from``, else ``plan.combiner`` fitted on ``plan.n_calib`` labelled archs of ``benchmark``
    (drawn with ``seed + CALIB_SEED_OFFSET``, scored with ``score``; a LIBRA one is saved as
    ``out_dir/combiner.json``). Returns the rank function and the combiner (None for a proxy)."""
    if plan.by != "combiner":
        column = plan.by
        return (lambda t: np.nan_to_num(t[column].to_numpy(float), nan=-np.inf)), None
    if plan.combiner_from:
        est: Any = saved.load(plan.combiner_from, "search.combiner_from")
        est.check_columns(proxies)
        log.info("search fitness: %s from %s (fitted on %s)", est.selected_, plan.combiner_from, est.data["fitted_on"])
        return (lambda t: est.predict(t[proxies])), est
    if plan.combiner is None or benchmark is None:
        raise ValueError("search.fitness=combiner needs combiner=<libra|xgboost|...> and a benchmark with labels, "
                         "or a fitted combiner file: search.combiner_from=<combiner.json>")
    target = plan.target or benchmark.targets[0]
    calib = [space.decode(a) for a in benchmark.sample(plan.n_calib, np.random.default_rng(seed + CALIB_SEED_OFFSET))]
    Z = pd.DataFrame(score(calib))[proxies]
    y = benchmark.lookup([space.encode(a) for a in calib])[target].to_numpy(dtype=float)
    est = plan.combiner.build().fit(Z, y)
    log.info("search fitness: %s fitted on %d labelled archs (%s)", plan.combiner.name, len(calib),
             getattr(est, "selected_", ""))
    if out_dir is not None:  # a selection (LIBRA) is saved: search.combiner_from=<it>
        saved.save_selection(est, out_dir / "combiner.json", {"space": space.name, "task": task, "benchmark": benchmark.name,
                                                              "target": target, "protocol": "in_sample", "seed": seed},
                             [space.encode(a) for a in calib])
    return (lambda t: est.predict(t[proxies])), est


def search_report(correlations: list[dict[str, Any]], selected: Selection, n_scored: int) -> str:
    """What a search run prints: the correlation rows that have a value, else one line saying why there
    are none (a pruning search scores supernets, which no benchmark labels), then the pick."""
    from zcnas.results import format_table  # noqa: PLC0415

    rows = [r for r in correlations if r.get("spearman") is not None and np.isfinite(r["spearman"])]
    labelled = max([int(r.get("n") or 0) for r in correlations], default=0)
    head = (format_table(rows) if rows else
            f"no correlations: {labelled} of the {n_scored} networks this search={selected.search} run scored "
            "have a benchmark label" + (" (pruning scores supernets, which no benchmark labels)"
                                        if selected.search == "prune" else ""))
    acc = f", accuracy {selected.accuracy}" if selected.accuracy is not None else ""
    flops = f", {selected.flops_M:.1f} MFLOPs" if selected.flops_M is not None else ""
    return (f"{head}\nselected {selected.arch} ({selected.params_M:.3f} M params{flops}, "
            f"fitness {selected.fitness:.4g}{acc}) -> selected_arch.json")


def flops_m(space: Any, arch: Any, num_classes: int, resolution: int) -> float:
    """Forward MFLOPs of one ``resolution`` x ``resolution`` image through ``arch`` with a ``num_classes``
    head (``torch.utils.flop_counter``, a multiply-add counts 2, as the ``flops`` proxy), eval mode."""
    import torch  # noqa: PLC0415
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

    model = space.build(arch, num_classes=num_classes).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, resolution, resolution))
    return counter.get_total_flops() / 1e6


def trajectory(hist: History, rank: Rank, per_round: bool) -> list[dict[str, Any]]:
    """Fitness per generation: evolution/random rank the whole history once (a rank-merged fitness is
    re-ranked as it grows) and report per generation the best so far, the generation's best and mean;
    pruning ranks each round's candidates among themselves (as it decided) and reports the round's best
    and mean (``best_so_far`` = the round's best: rounds are not comparable)."""
    table = hist.table()
    if table.empty:
        return []
    out, best = [], -np.inf
    if not per_round:
        table = table.assign(_fit=np.asarray(rank(table), dtype=float))
    for g, part in table.groupby("generation", sort=True):
        fit = np.asarray(rank(part), dtype=float) if per_round else part["_fit"].to_numpy()
        fit = fit[np.isfinite(fit)]
        if not len(fit):
            continue
        best = float(fit.max()) if per_round else max(best, float(fit.max()))
        out.append({"generation": int(g), "n": len(part), "best": float(fit.max()), "mean": float(fit.mean()),
                    "best_so_far": best})
    return out


def plot_trajectory(path: Path, traj: list[dict[str, Any]], search: str, fitness: str, per_round: bool) -> Path | None:
    """``search_trajectory.png``: best-so-far (not for ``per_round`` fitness, whose rounds are not comparable),
    per-generation best and mean fitness (Agg; logged to MLflow)."""
    if not traj:
        return None
    import matplotlib  # noqa: PLC0415
    import matplotlib.ticker  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    g = [t["generation"] for t in traj]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    if not per_round:
        ax.plot(g, [t["best_so_far"] for t in traj], "-o", ms=3, label="best so far")
    ax.plot(g, [t["best"] for t in traj], "--s", ms=3, label="best of " + ("round" if per_round else "generation"))
    ax.plot(g, [t["mean"] for t in traj], ":^", ms=3, label="mean")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("pruning round" if per_round else "generation")
    ax.set_ylabel(f"fitness ({fitness})")
    ax.set_title(f"search={search}: {sum(t['n'] for t in traj)} networks scored", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def run_search(search: Search, by: FitnessPlan, space: Any, score: Evaluate, proxies: list[str], *, num_classes: int,
               seed: int, out_dir: Path, benchmark: Any = None, task: str = "",
               space_config: dict[str, Any] | None = None, resolution: int | None = None) -> Selection:
    """Search ``space`` with ``search`` (a :class:`~zcnas.search.strategies.Search`) for the best fitness ``by``
    (:class:`~zcnas.plan.FitnessPlan`, made by the run's plan), every candidate scored by
    ``score(archs) -> [{proxy: score}]``; ``seed`` is the run's (weights, calibration sample), ``num_classes``
    sizes the archs' heads (#params). Returns the selected arch with its scores (and, where the benchmark
    covers it, its accuracy and rank percentile among all the benchmark's archs), its #params, its MFLOPs
    at ``resolution`` (when given) and the fitness trajectory (also drawn: ``search_trajectory.png``);
    ``space_config`` goes with it, so ``python -m zcnas.export`` needs no more."""
    search.check(space)
    checkpoint = Path(search.resume_from) if search.resume_from else out_dir / "search_history.json"
    if search.resume_from:  # checked before any work: a misspelt path never starts a fresh search silently
        if not checkpoint.is_file():
            raise FileNotFoundError(f"search.resume_from={search.resume_from} does not exist; give the "
                                    "search_history.json of the interrupted run, or leave it unset to start anew")
        rows = History.load(checkpoint).rows  # truncated or foreign files fail here, naming the file
        lacking = sorted({p for r in rows for p in proxies if p not in r})
        if lacking:
            raise ValueError(f"search.resume_from={search.resume_from}: its rows lack the scores of {lacking} (it was "
                             f"scored with {sorted(set(rows[0]) - {'arch'})[:8]}); resume with the same proxy=[...] "
                             "as the interrupted run, or leave search.resume_from unset")
    rank, est = fitness(by, proxies, score, space=space, benchmark=benchmark, seed=seed, task=task, out_dir=out_dir)
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
    arch = space.decode(best["arch"])
    traj = trajectory(found.history, rank, search.per_round) if found.history else []
    plot_trajectory(out_dir / "search_trajectory.png", traj, search.name, by.by, search.per_round)
    picks = list(est.selected_) if est is not None and hasattr(est, "selected_") else None
    loaded = picks is not None and bool(by.combiner_from)  # a selection fitted elsewhere: say where
    acc = benchmark.table.loc[best["arch"]] if benchmark is not None and best["arch"] in benchmark.table.index else None
    selected = Selection(
        arch=best["arch"], fitness=found.fitness, search=search.name, fitness_by=by.by,
        n_evaluated=found.n_evaluated, params_M=params(arch), scores={p: float(best[p]) for p in proxies},
        trajectory=traj, num_classes=int(num_classes), flops_M=flops_m(space, arch, num_classes, resolution) if resolution else None,
        space=space_config, extra=found.extra, combiner_selected=picks,
        combiner_from=by.combiner_from if loaded else None,
        combiner_fitted_on=est.data["fitted_on"] if loaded else None,
        accuracy=None if acc is None else {t: float(acc[t]) for t in benchmark.targets},
        rank_percentile=None if acc is None else {t: float((benchmark.table[t] <= acc[t]).mean() * 100)
                                                   for t in benchmark.targets},
        best_in_benchmark=None if acc is None else {t: float(benchmark.table[t].max()) for t in benchmark.targets})
    log.info("selected %s (fitness %.4g)%s", selected.arch, selected.fitness,
             f" accuracy {selected.accuracy}" if selected.accuracy is not None else "")
    return selected
