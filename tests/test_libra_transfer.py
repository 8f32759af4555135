"""LIBRA across benchmarks (issue: LIBRA transfer): zcnas.combine reads zcnas run directories as tables
(``benchmark=runs``), writes what it fitted with its provenance, and applies a saved selection unfitted
(``combiner=none combiner.from=``) beside every single proxy; a DARTS file of Genotype strings takes a
selection fitted on NAS-Bench-Suite-Zero's NB301 table. Real data: the headline grid's committed NB201 runs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from zcnas.combiners import Libra
from zcnas.combiners.rank import merge
from zcnas.combiners.saved import archs_digest, load, save
from zcnas.data.benchmarks import load_runs
from zcnas.metrics import correlate

from .conftest import ROOT

HEADLINE = ROOT / "experiments" / "benchmark_grid" / "results" / "headline"
C10 = sorted(HEADLINE.glob("nb201_c10/seed0_chunk*"))
C100 = sorted(HEADLINE.glob("nb201_c100/seed0_chunk*"))


def combine(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zcnas.combine", "tracking=none", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


def test_fit_on_one_benchmarks_runs_apply_on_anothers(tmp_path):
    """Two commands: fit LIBRA on the CIFAR-10 runs (500 cells), apply it to the CIFAR-100 runs (another 500);
    the transferred ρ equals an independent computation, every single proxy is reported on the same archs."""
    fit = combine(tmp_path, "benchmark=runs", f"benchmark.dirs=[{','.join(map(str, C10))}]", "combiner=libra",
                  "combiner.protocol=in_sample", "hydra.run.dir=fit")
    assert fit.returncode == 0, fit.stderr[-2000:]
    data = json.loads((tmp_path / "fit" / "combiner.json").read_text())
    c10 = load_runs([str(d) for d in C10]).tasks["cifar10"]
    z = c10.drop(columns="val_accuracy")
    est = Libra().fit(z.reset_index(drop=True), c10.val_accuracy.to_numpy())
    assert data["selected"] == est.selected_ and data["directions"] == est.directions_
    assert data["fitted_on"] | {"runs": ""} == {"space": "nb201", "task": "cifar10", "benchmark": "nb201_c10",
                                                "target": "cifar10", "protocol": "in_sample", "runs": "", "n_archs": 500,
                                                "archs_sha256": archs_digest(c10.index), "zcnas_version": "0.1.0"}

    use = combine(tmp_path, "benchmark=runs", f"benchmark.dirs=[{','.join(map(str, C100))}]", "combiner=none",
                  "combiner.from=fit/combiner.json", "hydra.run.dir=use")
    assert use.returncode == 0, use.stderr[-2000:]
    assert "libra.transferred" in use.stdout and "fitted on {'space': 'nb201'" in use.stdout + use.stderr
    recs = {r["proxy"]: r for r in json.loads((tmp_path / "use" / "correlations.json").read_text())}
    c100 = load_runs([str(d) for d in C100]).tasks["cifar100"]
    by_hand = merge(pd.DataFrame({p: c100[p] * d for p, d in data["directions"].items()}), "log_rank")
    want = correlate(by_hand, c100.val_accuracy.to_numpy())
    got = recs["libra.transferred"]
    assert (got["n"], got["protocol"], got["spearman"]) == (500, "transferred", pytest.approx(want["spearman"], abs=1e-12))
    assert got["spearman"] > 0.8 and set(recs) == {"libra.transferred", *z.columns}
    assert recs["lswag"]["spearman"] == pytest.approx(correlate(c100.lswag, c100.val_accuracy)["spearman"])


def test_runs_and_combiner_from_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    r = combine(tmp_path, "benchmark=runs", "benchmark.dirs=[empty]", "hydra.run.dir=o1")
    assert r.returncode == 1 and "empty is not a finished zcnas run directory (no correlations.json)" in r.stderr
    r = combine(tmp_path, "benchmark=runs", f"benchmark.dirs=[{C10[0]},{C10[0]}]", "hydra.run.dir=o2")
    assert r.returncode == 1 and "is in two runs; join disjoint runs" in r.stderr.strip().splitlines()[-1]
    r = combine(tmp_path, "benchmark=runs", f"benchmark.dirs=[{C10[0]},{C100[0]}]", "hydra.run.dir=o3")
    assert r.returncode == 1 and "has targets ['cifar100']" in r.stderr.strip().splitlines()[-1]
    saved = {"format": "zcnas-combiner", "version": 1, "combiner": "libra", "selected": ["nwot", "synflow"],
             "directions": {"nwot": 1, "synflow": 1}, "merge": "log_rank", "normalisation": "rank", "rho": {},
             "fitted_on": {}}
    (tmp_path / "c.json").write_text(json.dumps(saved))
    r = combine(tmp_path, "benchmark=runs", f"benchmark.dirs=[{C10[0]}]", "combiner=none", "combiner.from=c.json",
                "hydra.run.dir=o4")
    assert r.returncode == 1 and "combiner.from=c.json was fitted on ['nwot', 'synflow']; this run does not compute " \
        "synflow" in r.stderr.strip().splitlines()[-1]


def test_a_fitted_libra_and_its_saved_copy_rank_alike_when_a_pick_anticorrelates(tmp_path):
    """Directions: every proxy anticorrelates with accuracy here; LIBRA's own predict and the saved copy apply the
    same signs (ρ > 0), as the combiner.json a search or another benchmark loads."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    z = pd.DataFrame({"params": -y + rng.normal(size=200), "a": -y + 0.3 * rng.normal(size=200),
                      "b": -y + 0.4 * rng.normal(size=200), "c": -y + 0.5 * rng.normal(size=200)})
    est = Libra().fit(z, y)
    assert set(est.directions_.values()) == {-1}
    save(est, tmp_path / "c.json", {"benchmark": "synthetic"})
    np.testing.assert_array_equal(load(tmp_path / "c.json").predict(z), est.predict(z))
    assert correlate(est.predict(z), y)["spearman"] > 0.9


@pytest.mark.slow
def test_a_darts_file_of_genotypes_takes_a_selection_fitted_on_suite_zero_nb301(tmp_path):
    """Suite-Zero NB301 -> a user's DARTS file: the combiner the experiment fitted on Suite-Zero's table
    (experiments/libra_transfer/results/combiners) applied to 6 Genotype strings with their NB301 accuracy."""
    from zcnas.data.suite_zero import load_suite_zero
    from zcnas.spaces.darts import decode

    combiner = ROOT / "experiments" / "libra_transfer" / "results" / "combiners" / "nb301_suite_zero_minus_seed0.json"
    sel = load(combiner)
    sz = load_suite_zero("nb301", target="cifar10")
    keys = sz.sample(6, np.random.default_rng(5))
    pd.DataFrame({"arch": [decode(k).genotype() for k in keys], "top1": sz.lookup(keys)["cifar10"]}).to_csv(
        tmp_path / "genotypes.csv", index=False)
    r = subprocess.run([sys.executable, "-m", "zcnas.run", "space=darts", "space.C=8", "space.layers=2",
                        "benchmark=file", "benchmark.path=genotypes.csv", "n_archs=6", "batch_size=8",
                        f"proxy=[{','.join(sorted(set(sel.selected_) | {'params'}))}]", f"combiner.from={combiner}",
                        "tracking=none", "cache.path=null", "threads=1", "hydra.run.dir=run"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    table = pd.read_csv(tmp_path / "run" / "scores.csv")
    rec = next(x for x in json.loads((tmp_path / "run" / "correlations.json").read_text())
               if x["proxy"] == "libra.transferred")
    assert rec["n"] == 6 and rec["spearman"] == pytest.approx(correlate(sel.predict(table), table.top1)["spearman"])


@pytest.mark.slow
def test_committed_transfer_tables_are_reproduced_byte_for_byte(tmp_path):
    """experiments/libra_transfer/results is what transfer.py makes of the committed scores (rerun it after new
    headline chunks land)."""
    here = ROOT / "experiments" / "libra_transfer"
    r = subprocess.run([sys.executable, str(here / "transfer.py"), "--out", str(tmp_path)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    for name in ("transfer.csv", "summary.csv", "report.md"):
        assert (tmp_path / name).read_bytes() == (here / "results" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "combiners").iterdir()) == \
        sorted(p.name for p in (here / "results" / "combiners").iterdir())
