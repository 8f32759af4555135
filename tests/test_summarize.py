"""``python -m zcnas.summarize`` and the sweep summary: mean ± std over seeds per (setting, proxy,
target), shards replaced by their merged run, the MLflow parent run carrying the summary."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zcnas.summarize import collect, main, parent_metrics, summarize

from .test_scale import TINY, cli


def _write(path, recs):
    path.write_text(json.dumps(recs))


def test_experiment_files_are_grouped_by_name_without_the_seed(tmp_path, capsys):
    for seed, (a, b) in enumerate([(0.70, 0.50), (0.80, 0.40), (0.75, math.nan)]):
        _write(tmp_path / f"cifar10_seed{seed}_correlations.json",
               [{"proxy": "lswag", "target": "cifar10", "spearman": a, "kendall": a / 2, "top10_precision": 0.5, "n": 100},
                {"proxy": "nwot", "target": "cifar10", "spearman": None if b != b else b, "kendall": 0.1,
                 "top10_precision": None, "n": 99}])
        _write(tmp_path / f"cifar100_seed{seed}_correlations.json",
               [{"proxy": "lswag", "target": "cifar100", "spearman": 0.1 * seed, "kendall": 0.0, "n": 10}])
    s = summarize(collect([tmp_path])).set_index(["setting", "proxy", "target"])
    row = s.loc[("cifar10", "lswag", "cifar10")]
    assert row.spearman == pytest.approx(0.75) and row.spearman_std == pytest.approx(0.05)  # ddof=1
    assert (row.seeds, row.spearman_n, row.n_archs) == (3, 3, 100)
    nwot = s.loc[("cifar10", "nwot", "cifar10")]
    assert nwot.spearman == pytest.approx(0.45) and nwot.spearman_n == 2  # a null is a missing seed, counted
    assert math.isnan(nwot.top10_precision)
    assert s.loc[("cifar100", "lswag", "cifar100")].spearman == pytest.approx(0.1)
    _write(tmp_path / "single_seed0_correlations.json",
           [{"proxy": "zico", "target": "cifar10", "spearman": 0.3, "kendall": 0.2, "top10_precision": 0.4, "ndcg10": 0.9}])
    main([str(tmp_path)])
    out = capsys.readouterr().out
    assert "0.750 ± 0.050" in out and (tmp_path / "summary.csv").is_file()
    assert "top10%" in out.splitlines()[0] and "nDCG" in out.splitlines()[0]
    zico = next(line for line in out.splitlines() if "zico" in line).split()
    assert zico[3:7] == ["0.300", "0.200", "0.400", "0.900"]  # one seed: no "± 0.000"
    assert pd.read_parquet(tmp_path / "summary.parquet").shape == pd.read_csv(tmp_path / "summary.csv").shape
    assert parent_metrics(summarize(collect([tmp_path])))["cifar10/cifar10/spearman/lswag"] == pytest.approx(0.75)


def test_setting_labels_are_the_short_diff_and_never_merge_two_configs():
    from zcnas.summarize import setting_labels

    base = {"seed": "0", "space._target_": "zcnas.spaces.NB201Space", "task.name": "cifar10", "task.num_classes": "10",
            "benchmark.target": "cifar10", "proxies": "lswag", "proxy.lswag.lo": "0", "n_archs": "100"}
    runs = [base, {**base, "seed": "1"}, {**base, "task.name": "cifar100", "task.num_classes": "100",
                                          "benchmark.target": "cifar100"},
            {**base, "proxy.lswag.lo": "2"}, {**base, "extra.flag": "x"}]  # extra.flag: only in one run
    assert setting_labels(runs) == ["task=cifar10 lswag.lo=0", "task=cifar10 lswag.lo=0",
                                    "task=cifar100 lswag.lo=0", "task=cifar10 lswag.lo=2",
                                    "task=cifar10 lswag.lo=0 extra.flag=x"]  # not merged with the first


def test_bad_paths_are_one_line_errors(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        main([str(tmp_path / "nope")])
    with pytest.raises(SystemExit, match="no finished runs"):
        main([str(tmp_path)])
    _write(tmp_path / "x_correlations.json", [{"spearman": 0.3}])
    with pytest.raises(SystemExit, match="without proxy/target"):
        main([str(tmp_path)])


@pytest.mark.slow
def test_sweep_summary_uses_merged_shards_and_reaches_the_mlflow_parent(tmp_path):
    """2 seeds x 2 shards: the summary averages the 2 merged runs (12 archs each), never the shards;
    the parent run is named after the overrides and holds the summary metrics and files."""
    proc = cli(tmp_path, "-m", "seed=1,2", "shard.count=2", "shard.index=0,1", "n_archs=12", *TINY,
               "hydra.sweep.dir=sweep")
    assert "sweep summary" in proc.stdout
    summary = pd.read_csv(tmp_path / "sweep" / "summary.csv").set_index("proxy")
    runs = [json.loads(p.read_text()) for p in sorted((tmp_path / "sweep" / "merged").glob("*/correlations.json"))]
    assert len(runs) == 2
    rho = [next(r["spearman"] for r in recs if r["proxy"] == "nwot") for recs in runs]
    assert summary.loc["nwot", "spearman"] == pytest.approx(np.mean(rho))
    assert summary.loc["nwot", "spearman_std"] == pytest.approx(np.std(rho, ddof=1))
    assert (summary.loc["nwot", "seeds"], summary.loc["nwot", "n_archs"]) == (2, 12)

    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns.db")
    parent = next(r for r in client.search_runs(["1"]) if "mlflow.parentRunId" not in r.data.tags)
    assert parent.info.run_name.startswith("sweep: seed=1,2 shard.count=2")
    assert parent.data.metrics["cifar10/spearman/nwot"] == pytest.approx(np.mean(rho))
    assert parent.data.params["override.seed"] == "1,2"
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "summary")} >= {
        "summary/summary.csv", "summary/summary_heatmap.png", "summary/summary_spearman.png"}


def test_without_pyarrow_the_summary_is_csv_only(tmp_path, monkeypatch):
    """pyarrow is not a core dependency: without it the summary is written as CSV (and the plots), no crash."""
    import importlib.util

    from zcnas.summarize import write

    _write(tmp_path / "a_seed0_correlations.json", [{"proxy": "nwot", "target": "cifar10", "spearman": 0.5}])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    _, files = write([tmp_path], tmp_path / "out")
    assert [f.name for f in files] == ["summary.csv", "summary_spearman.png", "summary_heatmap.png"]
    assert not (tmp_path / "out" / "summary.parquet").exists()


@pytest.mark.slow
def test_six_different_runs_read_at_a_glance(tmp_path, capsys):
    """Six real runs that differ in seed, task, proxies, combiner and the L-SWAG window: each setting is the
    short diff (no key every run shares, nothing a task implies), a proxy a run did not compute is no row
    and no bar, one seed prints no ±, and the console gets no warning. The chart is kept as a test artifact
    (test-artifacts/summarize/six_runs.png) to look at."""
    import shutil
    import warnings

    from .conftest import ROOT

    runs = {"a": ["proxy=[lswag,nwot]"], "b": ["proxy=[lswag,nwot]", "seed=1"],
            "c": ["proxy=[lswag,nwot]", "task=cifar100"], "d": ["proxy=[nwot,params]"],
            "e": ["proxy=[lswag,nwot,params]", "combiner=libra"],
            "f": ["proxy=lswag", "proxy.lswag.lo=2", "task=imagenet16_120"]}
    for name, args in runs.items():
        cli(tmp_path, "n_archs=10", *TINY, *args, f"hydra.run.dir={name}")
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's layout warnings included
        main([str(tmp_path / n) for n in runs] + ["--out", str(tmp_path / "sum")])
    out = capsys.readouterr().out
    settings = list(dict.fromkeys(line.split("  ")[0] for line in out.splitlines()[1:-1]))
    assert settings == ["task=cifar10 proxies=lswag+nwot combiner=none lswag.lo=0",
                        "task=cifar100 proxies=lswag+nwot combiner=none lswag.lo=0",
                        "task=cifar10 proxies=nwot+params combiner=none",
                        "task=cifar10 proxies=lswag+nwot+params combiner=libra lswag.lo=0",
                        "task=ImageNet16-120 proxies=lswag combiner=none lswag.lo=2"]
    summary = pd.read_csv(tmp_path / "sum" / "summary.csv")
    assert summary.groupby("setting").proxy.apply(set).to_dict()[settings[2]] == {"nwot", "params"}
    assert summary.loc[summary.setting == settings[0], "seeds"].tolist() == [2, 2]
    assert "±" in out.splitlines()[1] and "±" not in out.splitlines()[3]
    shots = Path(os.environ.get("ZCNAS_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "summarize"
    shots.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "sum" / "summary_spearman.png", shots / "six_runs.png")
    shutil.copy(tmp_path / "sum" / "summary_heatmap.png", shots / "six_runs_heatmap.png")
