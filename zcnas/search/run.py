"""The search stage of ``zcnas.run`` (``search=evolution|random``): fitness, budget, selection."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.combiners import saved
from zcnas.search.evolution import History, evolve, random_search
from zcnas.search.prune import check_space, prune

log = logging.getLogger("zcnas.search")
CALIB_SEED_OFFSET = 10_000
"""The combiner's labelled calibration archs are drawn with ``seed + offset``: apart from the run's own
uniform sample (``seed``), so the fitness is not fitted on the archs the run reports."""
BUDGET_PROBE_ARCHS = 2000
"""Archs sampled (seed 0) to check that the parameter budget can be met before the search starts."""


def _fitness(cfg: Any, benchmark: Any, proxies: list[str], score_batch: Callable, rows: list[dict],
             space: Any, out_dir: Path) -> tuple[Callable[[pd.DataFrame], np.ndarray], Any]:
    """``rank(table)``: a proxy column, a combiner fitted on ``n_calib`` labelled archs (a LIBRA one is
    saved as ``combiner.json``), or one loaded from ``search.combiner_from``."""
    s = cfg.search
    if s.fitness in proxies:
        return (lambda t: np.nan_to_num(t[s.fitness].to_numpy(float), nan=-np.inf)), None
    if s.fitness != "combiner":
        raise ValueError(f"search.fitness={s.fitness!r} must be one of the proxies {proxies} or 'combiner'")
    if s.get("combiner_from"):  # fitted elsewhere (another benchmark): no labels needed here
        est: Any = saved.load(s.combiner_from)
        est.check_columns(proxies)
        log.info("search fitness: %s from %s (fitted on %s)", est.selected_, s.combiner_from, est.data["fitted_on"])
        return (lambda t: est.predict(t[proxies])), est
    if cfg.combiner.estimator is None or benchmark is None:
        raise ValueError("search.fitness=combiner needs combiner=<libra|xgboost|...> and a benchmark with labels, "
                         "or a fitted combiner file: search.combiner_from=<combiner.json>")
    from hydra.utils import instantiate  # noqa: PLC0415

    target = s.target or benchmark.targets[0]
    calib = benchmark.sample(s.n_calib, np.random.default_rng(cfg.seed + CALIB_SEED_OFFSET))
    score_batch([space.decode(a) for a in calib])
    table = pd.DataFrame(rows[-len(calib):])
    est = instantiate(cfg.combiner.estimator).fit(table[proxies], table[target].to_numpy())
    log.info("search fitness: %s fitted on %d labelled archs (%s)", cfg.combiner.name, len(calib),
             getattr(est, "selected_", ""))
    if hasattr(est, "selected_") and hasattr(est, "rho_"):  # reusable elsewhere: search.combiner_from=<it>
        saved.save(est, out_dir / "combiner.json", {"space": space.name, "task": cfg.task.name,
                                                     "benchmark": benchmark.name, "target": target, "n_archs": len(calib)})
    return (lambda t: est.predict(t[proxies])), est


def search_report(correlations: list[dict[str, Any]], selected: dict[str, Any], n_scored: int) -> str:
    """What a search run prints: the correlation rows that have a value, else one line saying why there
    are none (a pruning search scores supernets, which no benchmark labels), then the pick."""
    from zcnas.results import format_table  # noqa: PLC0415

    rows = [r for r in correlations if r.get("spearman") is not None and np.isfinite(r["spearman"])]
    labelled = max([int(r.get("n") or 0) for r in correlations], default=0)
    head = (format_table(rows) if rows else
            f"no correlations: {labelled} of the {n_scored} networks this search={selected['search']} run scored "
            "have a benchmark label" + (" (pruning scores supernets, which no benchmark labels)"
                                        if selected["search"] == "prune" else ""))
    acc = f", accuracy {selected['accuracy']}" if "accuracy" in selected else ""
    return (f"{head}\nselected {selected['arch']} ({selected['params_M']:.3f} M params, {selected['flops_M']:.1f} "
            f"MFLOPs, fitness {selected['fitness']:.4g}{acc}) -> selected_arch.json")


def flops_m(space: Any, arch: Any, task: Any) -> float:
    """Forward MFLOPs of one ``task``-sized image through ``arch`` (``torch.utils.flop_counter``, a
    multiply-add counts 2, as the ``flops`` proxy), eval mode."""
    import torch  # noqa: PLC0415
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

    model = space.build(arch, num_classes=task.num_classes).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, task.resolution, task.resolution))
    return counter.get_total_flops() / 1e6


def trajectory(hist: History, rank: Callable[[pd.DataFrame], np.ndarray], per_round: bool) -> list[dict[str, Any]]:
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


def plot_trajectory(path: Path, traj: list[dict[str, Any]], search: str, fitness: str) -> Path | None:
    """``search_trajectory.png``: best-so-far, per-generation best and mean fitness (Agg; logged to MLflow)."""
    if not traj:
        return None
    import matplotlib  # noqa: PLC0415
    import matplotlib.ticker  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    g = [t["generation"] for t in traj]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    if search != "prune":
        ax.plot(g, [t["best_so_far"] for t in traj], "-o", ms=3, label="best so far")
    ax.plot(g, [t["best"] for t in traj], "--s", ms=3, label="best of " + ("round" if search == "prune" else "generation"))
    ax.plot(g, [t["mean"] for t in traj], ":^", ms=3, label="mean")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("pruning round" if search == "prune" else "generation")
    ax.set_ylabel(f"fitness ({fitness})")
    ax.set_title(f"search={search}: {sum(t['n'] for t in traj)} networks scored", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def run_search(cfg: Any, space: Any, benchmark: Any, proxies: list[str], score_batch: Callable,
               rows: list[dict], out_dir: Path) -> dict[str, Any]:
    """Search with the configured strategy; return the selected arch with its scores (and, where the
    benchmark covers it, its accuracy and rank percentile among all the benchmark's archs)."""
    s = cfg.search
    if s.name == "prune":
        check_space(space)
    checkpoint = Path(s.resume_from) if s.resume_from else out_dir / "search_history.json"
    if s.resume_from:  # checked before any work: a misspelt path never starts a fresh search silently
        if not checkpoint.is_file():
            raise FileNotFoundError(f"search.resume_from={s.resume_from} does not exist; give the "
                                    "search_history.json of the interrupted run, or leave it unset to start anew")
        History.load(checkpoint)  # truncated or foreign files fail here, naming the file
    rank, est = _fitness(cfg, benchmark, proxies, score_batch, rows, space, out_dir)
    budget = (s.params_min, s.params_max) if s.params_min is not None or s.params_max is not None else None
    if budget is not None:
        budget = (budget[0] if budget[0] is not None else 0.0, budget[1] if budget[1] is not None else np.inf)
        sizes = [space.param_count(a, cfg.task.num_classes) / 1e6 for a in space.sample(min(BUDGET_PROBE_ARCHS, len(space)), np.random.default_rng(0))]
        if not any(budget[0] <= p <= budget[1] for p in sizes):
            raise ValueError(f"no architecture of {space.name} meets the parameter budget {budget} M "
                             f"({space.name}'s #params span min {min(sizes):.2f} M, max {max(sizes):.2f} M over {len(sizes)} "
                             "sampled archs): set search.params_min/params_max within it")
    params = lambda a: space.param_count(a, cfg.task.num_classes) / 1e6  # noqa: E731

    if s.name == "evolution":
        hist = evolve(space, score_batch, rank, population=s.population, generations=s.generations,
                      parents=s.parents, mutations=s.mutations, crossovers=s.crossovers, budget=budget,
                      params=params, seed=s.seed, checkpoint=checkpoint)
    elif s.name == "random":
        hist = random_search(space, score_batch, n=s.n, budget=budget, params=params, seed=s.seed,
                             checkpoint=checkpoint)
    elif s.name == "prune":  # supernet weights follow the top-level seed, as every search's inits
        hist, net, last = prune(space, score_batch, rank, seed=cfg.seed, repeat=s.repeat, scope=s.scope,
                                prune_number=s.get("prune_number", 1), checkpoint=checkpoint)
        found = space.supernet_arch(net)
        if budget is not None and not budget[0] <= params(found) <= budget[1]:
            log.warning("the pruned arch (%.3f M params) is outside the budget %s M: pruning does not "
                        "constrain #params", params(found), budget)
        (scores,) = score_batch([found])
        best = pd.Series({"arch": space.encode(found), **scores})
        fit_best, n_evaluated = last, len(hist.rows) + 1
    else:
        raise ValueError(f"unknown search {s.name!r}; valid: none, evolution, random, prune")
    if s.name != "prune":
        table = hist.table()
        fit = rank(table)
        best = table.iloc[int(np.argmax(fit))]
        fit_best, n_evaluated = float(np.max(fit)), len(table)
    found = space.decode(best["arch"])
    selected: dict[str, Any] = {"arch": best["arch"], "fitness": fit_best, "search": s.name,
                                "fitness_by": s.fitness, "n_evaluated": n_evaluated,
                                "params_M": params(found), "flops_M": flops_m(space, found, cfg.task),
                                "scores": {p: float(best[p]) for p in proxies},
                                "trajectory": trajectory(hist, rank, s.name == "prune")}
    plot_trajectory(out_dir / "search_trajectory.png", selected["trajectory"], s.name, s.fitness)
    from omegaconf import OmegaConf  # noqa: PLC0415

    selected["space"] = OmegaConf.to_container(cfg.space, resolve=True)  # python -m zcnas.export needs no more
    selected["num_classes"] = int(cfg.task.num_classes)
    if s.name == "prune":
        selected["fitness_note"] = "fitness of the last pruning round's chosen supernet"
        selected["n_supernets"] = len(hist.rows)
    if est is not None and hasattr(est, "selected_"):
        selected["combiner_selected"] = list(est.selected_)
        selected["tags"] = {f"combiner/z{i + 1}": p for i, p in enumerate(est.selected_)}  # MLflow tags
        if s.get("combiner_from"):
            selected["combiner_from"] = str(s.combiner_from)
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
