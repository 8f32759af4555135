"""Search: determinism under a seed, kill-and-resume equals an uninterrupted run, budgets, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir

from zcnas.data import Task
from zcnas.probe import Probe, arch_seed
from zcnas.proxies import score
from zcnas.run import score_archs
from zcnas.search import History, evolve, random_search
from zcnas.spaces import AutoFormerSpace, NB201Space

from .conftest import ROOT

SPACE = NB201Space(C=4, N=1)
X, Y = Task().batch(8, 0)


class Killed(Exception):
    pass


def lswag_eval(kill_after: int | None = None):
    calls = []

    def evaluate(archs):
        out = []
        for a in archs:
            if kill_after is not None and len(calls) >= kill_after:
                raise Killed
            calls.append(a)
            torch.manual_seed(arch_seed(0, SPACE.encode(a)))
            out.append(score(Probe(SPACE.build(a), X, Y), {"lswag": {}}))
        return out

    return evaluate


def rank(table: pd.DataFrame) -> np.ndarray:
    return np.nan_to_num(table["lswag"].to_numpy(float), nan=-np.inf)


KW = dict(population=6, generations=4, parents=3, mutations=3, crossovers=3, seed=7)


def test_evolution_is_deterministic():
    a = evolve(SPACE, lswag_eval(), rank, **KW)
    b = evolve(SPACE, lswag_eval(), rank, **KW)
    assert a.rows == b.rows and 15 <= len(a.rows) <= 6 + 3 * 6
    assert len({r["arch"] for r in a.rows}) == len(a.rows)  # never evaluates an arch twice
    # later generations breed from the best: their mean fitness beats the random start
    t = a.table()
    assert t[t.generation == 3].lswag.mean() > t[t.generation == 0].lswag.mean()


def test_kill_and_resume_equals_uninterrupted(tmp_path):
    ckpt = tmp_path / "history.json"
    full = evolve(SPACE, lswag_eval(), rank, **KW)
    with pytest.raises(Killed):  # killed in the middle of generation 2
        evolve(SPACE, lswag_eval(kill_after=6 + 3 * 2 + 2), rank, checkpoint=ckpt, **KW)
    assert History.load(ckpt).generation == 2
    resumed = evolve(SPACE, lswag_eval(), rank, checkpoint=ckpt, **KW)
    assert resumed.rows == full.rows and resumed.generation == 4


def test_random_search_budget_and_resume(tmp_path):
    space = AutoFormerSpace("small", flavour="cream")  # Auto-Prox defines tiny only
    calls = []

    def evaluate(archs):
        calls.extend(archs)
        return [{"params": space.param_count(a) / 1e6} for a in archs]

    hist = random_search(space, evaluate, n=30, budget=(21.0, 23.0), params=lambda a: space.param_count(a) / 1e6,
                         seed=1, batch=10, checkpoint=tmp_path / "h.json")
    assert len(hist.rows) == 30 and all(21.0 <= r["params"] <= 23.0 for r in hist.rows)
    again = random_search(space, evaluate, n=30, budget=(21.0, 23.0), params=lambda a: space.param_count(a) / 1e6,
                          seed=1, batch=10, checkpoint=tmp_path / "h.json")
    assert again.rows == hist.rows and len(calls) == 30  # a finished checkpoint computes nothing new


def test_cli_search_selects_and_reports(tmp_path):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "search=evolution", "search.population=5", "search.generations=2", "search.parents=3",
            "search.mutations=2", "search.crossovers=2", "proxy=[lswag,params]", "space.C=4", "space.N=1",
            "batch_size=8", "tracking=none"])
    score_archs(cfg, tmp_path)
    sel = json.loads((tmp_path / "selected_arch.json").read_text())
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert sel["arch"] == scores.loc[scores.lswag.idxmax(), "arch"] and sel["n_evaluated"] == 9
    assert 0 < sel["accuracy"]["cifar10"] <= sel["best_in_benchmark"]["cifar10"] == pytest.approx(94.41)
    assert 0 < sel["rank_percentile"]["cifar10"] <= 100
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        bad = compose(config_name="config", overrides=["search=random", "search.params_min=50",
                                                       "space.C=4", "space.N=1", "tracking=none"])
    with pytest.raises(ValueError, match="no architecture of nb201 meets the parameter budget"):
        score_archs(bad, tmp_path)


def test_run_search_takes_a_score_callable_and_explicit_arguments(tmp_path):
    """No config, no rows: a Search object, a score callable and the run's facts select the best arch
    by the fitness column, with the benchmark's accuracy of it."""
    from zcnas.data import load_nb201
    from zcnas.plan import FitnessPlan
    from zcnas.search import RandomSearch
    from zcnas.search.run import run_search

    bench = load_nb201(target="cifar10")

    def by_params(archs):
        return [{"params": SPACE.param_count(a) / 1e6} for a in archs]

    search = RandomSearch(n=12, fitness="params", seed=3)
    sel = run_search(search, FitnessPlan.of(search, ["params"]), SPACE, by_params, ["params"], num_classes=10, seed=0,
                     out_dir=tmp_path, benchmark=bench)
    rows = History.load(tmp_path / "search_history.json").rows
    assert len(rows) == 12 and len({r["arch"] for r in rows}) == 12
    assert sel.scores["params"] == max(r["params"] for r in rows) == pytest.approx(sel.params_M)
    assert (sel.search, sel.n_evaluated, sel.fitness_by) == ("random", 12, "params")
    assert sel.accuracy["cifar10"] == pytest.approx(float(bench.table.loc[sel.arch, "cifar10"]))
    assert list(sel.to_json()) == ["arch", "fitness", "search", "fitness_by", "n_evaluated", "params_M", "scores",
                                   "trajectory", "num_classes", "accuracy", "rank_percentile", "best_in_benchmark"]
    with pytest.raises(ValueError, match="must be one of the proxies"):
        FitnessPlan.of(RandomSearch(n=2, fitness="lswag"), ["params"])
    with pytest.raises(ValueError, match="search.fitness=combiner needs combiner="):
        FitnessPlan.of(RandomSearch(n=2, fitness="combiner"), ["params"])
