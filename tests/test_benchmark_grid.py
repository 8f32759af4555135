"""experiments/benchmark_grid: grid.py's commands and analyse.py's tables on a grid of known correlations."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from zcnas.cli import instantiate
from zcnas.metrics import correlate

from .conftest import ROOT

GRID_DIR = ROOT / "experiments" / "benchmark_grid"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_grid_{name}", GRID_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's namespace
    spec.loader.exec_module(module)
    return module


grid, analyse = _load("grid"), _load("analyse")


def test_commands_cap_n_at_the_benchmark_and_keep_precomputed_to_the_main_runs(tmp_path):
    cmds = grid.commands(["nb101", "micro_jig"], n=1000, seeds=[0, 1], shards=2, launcher="slurm", out=tmp_path,
                         proxies=["lswag", "nwot"], ablation=True, python="py", extra=["tracking=none"])
    assert len(cmds) == 4
    main_nb101, main_jig, abl_nb101, _ = cmds
    assert "n_archs=500" in main_nb101 and "n_archs=711" in main_jig  # Suite-Zero's labelled archs
    assert {"seed=0,1", "shard.count=2", "shard.index=0,1", "launcher=slurm", "proxy=[lswag,nwot]",
            f"cache.path={tmp_path / 'zcnas_cache.db'}", f"hydra.sweep.dir={tmp_path / 'main' / 'nb101'}",
            "benchmark.precomputed=all", "tracking=none"} <= set(main_nb101)
    assert "proxy=[lswag,lswag_lambda]" in abl_nb101 and "proxy.lswag.hi=10" in abl_nb101
    assert "record_deciles=true" in main_nb101 and "record_deciles=true" not in abl_nb101
    assert "benchmark.precomputed=all" not in abl_nb101
    assert f"hydra.sweep.dir={tmp_path / 'ablation' / 'nb101'}" in abl_nb101
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['nope'\]; valid: nb201_c10"):
        grid.commands(["nope"], n=10, seeds=[0], shards=1, launcher="none", out=tmp_path, proxies=["nwot"],
                      ablation=False, python="py", extra=[])


def test_column_sizes_are_the_benchmarks_labelled_archs():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        for col, (overrides, size) in grid.COLUMNS.items():
            cfg = compose(config_name="config", overrides=[*overrides, "tracking=none"])
            assert len(instantiate(cfg.benchmark).table) == size, col


def _run(run_dir: Path, seed: int, scores: pd.DataFrame, target: str) -> None:
    """A finished zcnas run directory: config.yaml, scores.csv and correlations.json (zcnas.metrics)."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(f"seed: {seed}\nshard:\n  index: 0\n  count: 1\n")
    scores.to_csv(run_dir / "scores.csv", index=False)
    recs = [{"proxy": p, "target": target, **correlate(scores[p].to_numpy(), scores[target].to_numpy(), n_boot=0)}
            for p in scores.columns if p not in ("arch", target)]
    (run_dir / "correlations.json").write_text(json.dumps(recs))


@pytest.fixture
def grid_dir(tmp_path) -> Path:
    """Two columns x two seeds (main) and one ablation run, 10 archs, with correlations known exactly."""
    y = np.arange(10.0)
    swapped = y.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # one adjacent swap: ρ = 1 - 6·2 / (10·99)
    root = tmp_path / "grid"
    for col, target in [("nb201_c10", "cifar10"), ("micro_jig", "jigsaw")]:
        for seed, sign in [(0, 1.0), (1, -1.0)]:
            _run(root / "main" / col / f"seed{seed}_shard0", seed, pd.DataFrame({
                "arch": [f"a{i}" for i in range(10)], "lswag": y, "lswag_lambda": swapped, "zico": -y,
                "nwot": swapped if col == "micro_jig" else y, "aznas_expressivity": sign * y,
                "aznas_trainability": sign * y, "aznas_progressivity": sign * y, "flops": sign * y, "sz_nwot": -swapped,
                target: y}),
                target)
    _run(root / "ablation" / "nb201_c10" / "seed0_shard0", 0, pd.DataFrame({
        "arch": [f"a{i}" for i in range(10)], "lswag": -swapped, "lswag_lambda": y, "cifar10": y}), "cifar10")
    return root


def test_analyse_tables_hold_the_known_correlations(grid_dir, tmp_path):
    tables = analyse.write(grid_dir, tmp_path / "out")
    heat, swap = tables["heatmap"], 1 - 12 / 990
    assert list(heat.columns) == ["nb201_c10", "micro_jig", "mean"]
    assert heat.loc["lswag"].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert heat.loc["zico"].tolist() == pytest.approx([-1.0, -1.0, -1.0])
    assert heat.loc["nwot"].tolist() == pytest.approx([1.0, swap, (1 + swap) / 2])
    assert heat.loc["aznas"].tolist() == pytest.approx([0.0, 0.0, 0.0])  # +1 (seed 0) and -1 (seed 1)
    assert heat.index[0] == "lswag" and heat.index[-1] == "zico" and "sz_nwot" not in heat.index
    t3 = tables["table3"].set_index(["row", "column"])
    assert t3.loc[("no µ + L̂ + Ψ (L-SWAG)", "nb201_c10"), ["ours", "paper", "seeds"]].tolist() == pytest.approx([1.0, 0.79, 2])
    assert t3.loc[("no µ + Ψ", "nb201_c10"), "ours"] == pytest.approx(-swap)  # the ablation (full-window) run
    assert t3.loc[("no µ", "nb201_c10"), ["ours", "paper"]].tolist() == pytest.approx([1.0, 0.78])
    assert t3.loc[("no µ + L̂", "micro_jig"), ["ours", "paper"]].tolist() == [pytest.approx(swap), 0.56]
    sz = tables["suite_zero"].set_index(["column", "proxy"])
    assert sz.loc[("micro_jig", "nwot")].tolist() == pytest.approx([swap, -swap])
    for name in ("heatmap.png", "mean_rho.png", "heatmap.csv", "table3.csv", "records.csv", "report.md"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    mean = pd.read_csv(tmp_path / "out" / "mean_rho.csv", index_col=0)
    assert mean.loc["lswag"].tolist() == pytest.approx([1.0, 0.72])
    assert "| lswag | 1.000 | 1.000 | 1.000 |" in (tmp_path / "out" / "report.md").read_text()


def test_analyse_without_grid_runs_is_a_one_line_error(tmp_path):
    with pytest.raises(SystemExit, match="analyse.py: error: .*no main/<column>/ or ablation/<column>/"):
        analyse.main([str(tmp_path)])


def test_analyse_reproduces_the_committed_demo(tmp_path):
    """The demo's real runs (results/demo/runs: NB201 C10, NB101, Micro jigsaw; 20 cells, seed 0) give the
    committed tables again."""
    tables = analyse.write(GRID_DIR / "results" / "demo" / "runs", tmp_path)
    heat = tables["heatmap"]
    assert list(heat.columns) == ["nb201_c10", "nb101", "micro_jig", "mean"]
    assert heat.loc["lswag"].round(3).tolist() == [0.591, 0.202, 0.123, 0.305]
    assert heat.loc["aznas"].round(3).tolist() == [0.734, 0.749, 0.522, 0.668]
    committed = pd.read_csv(GRID_DIR / "results" / "demo" / "heatmap.csv", index_col=0)
    pd.testing.assert_frame_equal(heat, committed, check_names=False, check_exact=False, rtol=1e-12)
    assert (tmp_path / "report.md").read_text() == (GRID_DIR / "results" / "demo" / "report.md").read_text() \
        .replace("experiments/benchmark_grid/results/demo/runs", str(GRID_DIR / "results" / "demo" / "runs"))
