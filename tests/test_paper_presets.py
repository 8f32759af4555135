"""The paper's search presets (experiment=paper_darts_c10, experiment=paper_autoformer_small): they
compose to the published settings, run end to end at a tiny budget, and record the search's cost, the
found arch with #params and FLOPs, and its fitness trajectory (PNG, MLflow). Also: zcnas.combine writes
the combiner.json the DARTS preset loads, and a pruning run prints one line instead of NaN correlations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from zcnas.combine import run_combine
from zcnas.run import score_archs
from zcnas.spaces import AutoFormerSpace, DartsSpace

from .conftest import ROOT


def compose_cfg(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name=name, overrides=list(overrides))


def test_combine_writes_the_combiner_json_a_search_loads(tmp_path):
    cfg = compose_cfg("combine", "benchmark=suite_zero_nb301", "combiner=libra", "repeats=1", "tracking=none")
    run_combine(cfg, tmp_path)
    data = json.loads((tmp_path / "combiner.json").read_text())
    assert data["selected"] == ["nwot", "l2_norm", "flops"] and data["directions"] == {"nwot": 1, "l2_norm": 1, "flops": 1}
    fitted_on = data["fitted_on"]
    assert len(fitted_on.pop("archs_sha256")) == 64 and fitted_on.pop("zcnas_version")
    assert fitted_on == {"space": "nb301", "task": "cifar10", "benchmark": "suite_zero_nb301",
                         "target": "val_accuracy", "protocol": "in_sample", "n_archs": 725}
    assert data["rho"]["nwot"] == pytest.approx(0.5549, abs=1e-3) and data["merge"] == "log_rank"


def test_presets_compose_to_the_papers_settings(tmp_path):
    d = compose_cfg("config", "experiment=paper_darts_c10", f"search.combiner_from={tmp_path}/c.json")
    assert d.space._target_ == "zcnas.spaces.DartsSpace" and (d.space.C, d.space.layers) == (1, 5)
    assert (d.search._target_, d.search.fitness, d.search.repeat, d.search.prune_number, d.batch_size) == \
        ("zcnas.search.Prune", "combiner", 3, 3, 14)
    assert list(d.proxy) == ["nwot", "l2_norm", "flops", "params"] and d.benchmark._target_.endswith("no_benchmark")
    from zcnas.cli import check_config
    from zcnas.plan import planned

    assert planned(d) == (3 * (28 * (7 + 4) + 2 * (3 + 4 + 5)) + 1, False)  # 997 supernets + the found cell
    check_config(d)
    with pytest.raises(ValueError, match=r"or a fitted combiner file: search.combiner_from=<combiner.json>"):
        score_archs(compose_cfg("config", "experiment=paper_darts_c10", "tracking=none", "cache.path=null"), tmp_path)
    a = compose_cfg("config", "experiment=paper_autoformer_small")
    assert (a.space.variant, a.space.flavour, a.search._target_, a.search.fitness) == \
        ("small", "cream", "zcnas.search.Evolution", "lswag")
    assert (a.search.population, a.search.generations, a.search.parents, a.search.mutations, a.search.crossovers) == \
        (50, 20, 10, 25, 25)
    assert (a.search.params_min, a.search.params_max, a.space.mutation_prob, a.space.structure_prob) == (18, 23, 0.2, 0.4)
    assert planned(a) == (50 + 19 * 50, False)
    space = AutoFormerSpace("small", flavour="cream")
    assert space.choices.embed == (320, 384, 448) and space.choices.heads == (5, 6, 7)
    # AutoFormer-S as published (Cream experiments/subnet/AutoFormer-S.yaml) is inside the budget: 22.9 M
    s = space.decode("embed=384|depth=13|mlp=3,3.5,3,3.5,4,4,4,4,4,4,4,3.5,4|heads=6,6,5,7,5,5,5,6,6,7,7,6,7")
    assert space.param_count(s, 1000) / 1e6 == pytest.approx(22.9, abs=0.15)


def check_outputs(out, search: str):
    sel = json.loads((out / "selected_arch.json").read_text())
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["cost"]["cpu_hours"] > 0 and summary["cost"]["wall_hours"] > 0 and "gpu_hours" not in summary["cost"]
    assert sel["flops_M"] > 0 and sel["params_M"] > 0 and sel["search"] == search
    traj = sel["trajectory"]
    assert sum(t["n"] for t in traj) == sel["n_evaluated"] - (search == "prune")
    assert all(np.isfinite([t["best"], t["mean"], t["best_so_far"]]).all() and t["best"] >= t["mean"] for t in traj)
    assert (out / "search_trajectory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from zcnas.tracking import read_run_dir

    run = read_run_dir(out)
    assert run["metrics"]["cost/cpu_hours"] == pytest.approx(summary["cost"]["cpu_hours"])
    assert run["metrics"]["search/params_M"] == pytest.approx(sel["params_M"])
    assert run["metrics"]["search/flops_M"] == pytest.approx(sel["flops_M"])
    assert out / "search_trajectory.png" in run["artifacts"]
    return sel


@pytest.mark.slow
def test_paper_darts_c10_at_a_tiny_budget(tmp_path, capsys):
    """The preset with the combiner.json zcnas.combine wrote, at repeat 1 and 2 cells: 221 supernets."""
    run_combine(compose_cfg("combine", "benchmark=suite_zero_nb301", "combiner=libra", "repeats=1", "tracking=none"),
                tmp_path)
    cfg = compose_cfg("config", "experiment=paper_darts_c10", f"search.combiner_from={tmp_path}/combiner.json",
                      "search.repeat=1", "search.prune_number=6", "space.layers=2", "batch_size=4", "tracking=none",
                      "cache.path=null", "threads=1")
    score_archs(cfg, tmp_path / "run")
    sel = check_outputs(tmp_path / "run", "prune")
    assert sel["n_evaluated"] == 2 * 14 * 7 + 2 * (3 + 4 + 5) + 1 and sel["combiner_selected"] == ["nwot", "l2_norm", "flops"]
    arch = DartsSpace.decode(sel["arch"])
    assert sel["params_M"] == pytest.approx(DartsSpace(C=1, layers=2).param_count(arch, 10) / 1e6)
    assert len(sel["trajectory"]) == 2  # one op round (6 of 7 ops go), one node round
    out = capsys.readouterr().out
    assert "no correlations: 0 of the 221 networks this search=prune run scored have a benchmark label" in out
    assert "nan" not in out.lower().split("selected")[0]


@pytest.mark.slow
def test_paper_autoformer_small_at_a_tiny_budget(tmp_path):
    """AutoFormer-S evolution within [18, 23] M at population 4, 2 generations, on 32x32 inputs (4 tokens + class token)."""
    cfg = compose_cfg("config", "experiment=paper_autoformer_small", "task=cifar10", "space.img_size=32",
                      "search.population=4", "search.generations=2", "search.parents=2", "search.mutations=2",
                      "search.crossovers=2", "batch_size=4", "tracking=none", "cache.path=null", "threads=1")
    score_archs(cfg, tmp_path)
    sel = check_outputs(tmp_path, "evolution")
    assert 18 <= sel["params_M"] <= 23
    # generation 1: 2 mutants, and crossovers only where the two parents share a depth (AutoFormer's rule)
    n = [t["n"] for t in sel["trajectory"]]
    assert n[0] == 4 and 2 <= n[1] <= 4 and sel["n_evaluated"] == sum(n) == len(pd.read_csv(tmp_path / "scores.csv"))
    assert sel["trajectory"][1]["best_so_far"] >= sel["trajectory"][0]["best_so_far"]


def test_a_budget_no_arch_meets_names_the_spaces_range(tmp_path):
    cfg = compose_cfg("config", "experiment=paper_autoformer_small", "search.params_min=1", "search.params_max=2",
                      "tracking=none", "cache.path=null")
    with pytest.raises(ValueError, match=r"no architecture of autoformer meets the parameter budget \(1, 2\) M "
                                         r"\(autoformer's #params span min 1[0-9]\.\d\d M, max [345]\d\.\d\d M"):
        score_archs(cfg, tmp_path)
    assert len((tmp_path / "scores.csv").read_text().splitlines()) <= 1  # nothing scored
