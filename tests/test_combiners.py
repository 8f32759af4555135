"""Combiners on tables: LIBRA's picks by construction, the IG estimator by hand, the estimator
contract, honest splits, and LIBRA on the real NAS-Bench-Suite-Zero NB201 table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from zcnas.combine import run_combine
from zcnas.combiners import AZNASRank, Libra, RankMean, XGBCombiner
from zcnas.combiners.evaluate import split
from zcnas.data.suite_zero import load_suite_zero, parse_key
from zcnas.metrics import correlate, discretize, information_gain, joint_entropy

from .conftest import ROOT


@pytest.fixture
def table() -> tuple[pd.DataFrame, np.ndarray]:
    """y tracks #params (bias ~0.83); `best` is y + little noise; `dup` a monotone copy of `best`
    (zero information gain); `match` and `far` are equally good (ρ ~0.95) but only `match` has
    the accuracy's bias; `weak` lies outside the 0.1 window."""
    rng = np.random.default_rng(0)
    n = 1000
    params = rng.normal(size=n)
    y = params + 0.6 * rng.normal(size=n)
    best = y + 0.15 * rng.normal(size=n)
    z = pd.DataFrame({"params": params, "best": best, "dup": np.exp(best),
                      "match": y + 0.35 * rng.normal(size=n),
                      "far": y + 0.2 * rng.normal(size=n) - 0.35 * params,
                      "weak": y + 2 * rng.normal(size=n)})
    return z, y


@pytest.mark.parametrize("binning", ["equal_width", "equal_frequency", "quantile_rank"])
def test_libra_picks_the_constructed_triplet(table, binning):
    z, y = table
    lib = Libra(binning=binning).fit(z, y)
    assert lib.selected_ == ["best", "dup", "match"]
    d = lib.diagnostics_.set_index("proxy")
    assert d.loc["dup", "ig"] == d.loc[d.in_window, "ig"].min() and d.loc["far", "ig"] > 5 * d.loc["dup", "ig"]
    # a monotone copy has the same rank bins (no information); exp() moves equal-width bin edges
    assert (d.loc["dup", "ig"] == 0.0) == (binning != "equal_width") and np.isnan(d.loc["best", "ig"])
    assert d["ig"].notna().sum() == len(d) - 1  # every proxy but z1, in the window or not
    assert d.loc["match", "bias_gap"] < d.loc["far", "bias_gap"]
    assert not d.loc["weak", "in_window"] and lib.fallback_ == []
    merged = lib.predict(z)
    assert correlate(merged, y)["spearman"] > 0.95


def test_libra_fallback_when_window_is_thin(table):
    z, y = table
    lib = Libra(window=0.001).fit(z[["params", "best", "match", "weak"]], y)
    assert lib.selected_[0] == "best" and len(lib.selected_) == 3 and lib.fallback_ == lib.selected_[1:]
    assert "fallback" in " ".join(lib.diagnostics_["role"])


def test_information_gain_hand_computed():
    y = np.array([0, 0, 1, 1.0])
    const = np.zeros(4)
    assert information_gain(y, const, y, bins=2) == pytest.approx(1.0)          # z reveals y: 1 bit
    assert information_gain(y, const, np.array([0, 1, 0, 1.0]), bins=2) == 0.0  # independent of y
    assert information_gain(y, y, np.array([0, 1, 0, 1.0]), bins=2) == 0.0      # z1 already knows y


def test_binnings_ties_constants_and_miller_madow():
    heavy = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 100.0])  # ties and a heavy tail
    assert discretize(heavy, 4, "equal_width").tolist() == [0, 0, 0, 0, 0, 0, 0, 3]
    assert discretize(heavy, 4, "equal_frequency").tolist() == [0, 0, 0, 0, 1, 1, 2, 2]  # tied edges merged: 3 bins
    assert discretize(heavy, 4, "quantile_rank").tolist() == [0, 0, 0, 0, 2, 2, 3, 3]   # ties share rank 2.5
    for b in ("equal_width", "equal_frequency", "quantile_rank"):
        assert discretize(np.full(5, 7.0), 4, b).tolist() == [0] * 5                 # constant: one bin
        assert len(set(discretize(heavy, 4, b)[:4])) == 1                           # ties share a bin
    with pytest.raises(ValueError, match="unknown binning 'uniform'; valid: equal_width"):
        discretize(heavy, 4, "uniform")
    with pytest.raises(ValueError, match="non-finite"):
        discretize(np.array([1.0, np.nan]), 4)
    # Miller-Madow: plug-in H + (m - 1) / (2 n ln 2) bits, m occupied cells
    codes = np.array([0, 0, 1, 2])
    plug = -(0.5 * np.log2(0.5) + 2 * 0.25 * np.log2(0.25))
    assert joint_entropy(codes) == pytest.approx(plug)
    assert joint_entropy(codes, miller_madow=True) == pytest.approx(plug + 2 / (8 * np.log(2)))
    with pytest.raises(ValueError, match="combiner.binning='uniform'"):
        Libra(binning="uniform").fit(pd.DataFrame({"params": [1.0, 2, 3, 4], "a": [1.0, 3, 2, 4]}), np.arange(4.0))


@pytest.mark.parametrize("est", [Libra(), RankMean(), AZNASRank(), XGBCombiner(n_estimators=20)])
def test_estimator_contract(est, table):
    z, y = table
    with pytest.raises(NotFittedError):
        est.predict(z)
    a = clone(est).fit(z, y)
    assert a is not est and a.get_params() == est.get_params()
    p1, p2 = a.predict(z), clone(est).fit(z, y).predict(z)
    np.testing.assert_array_equal(p1, p2)
    assert p1.shape == (len(z),) and correlate(p1, y)["spearman"] > 0.8


def test_xgb_importances_and_bad_inputs(table, caplog):
    z, y = table
    xgb = XGBCombiner(n_estimators=50).fit(z, y)
    assert set(xgb.feature_importances_.index) == set(z.columns)
    assert xgb.feature_importances_.idxmax() in {"best", "dup"}
    with pytest.raises(ValueError, match="needs at least 10 labelled archs, got 5"):
        XGBCombiner().fit(z.head(5), y[:5])
    with pytest.raises(ValueError, match="target column is constant"):
        Libra().fit(z, np.ones(len(z)))
    with pytest.raises(ValueError, match="bias column 'params'"):
        Libra().fit(z.drop(columns="params"), y)
    nan_col = z.assign(broken=np.nan)
    assert "broken" not in RankMean().fit(nan_col).columns_
    assert "broken" in caplog.text


def test_honest_split_is_disjoint_and_seeded():
    fit, ev = split(100, 0.4, seed=3)
    assert len(fit) == 40 and len(ev) == 60 and not set(fit) & set(ev)
    assert np.array_equal(fit, split(100, 0.4, seed=3)[0])
    with pytest.raises(ValueError, match="leaves no room"):
        split(10, 9, seed=0)


def test_suite_zero_keys_and_tables():
    with pytest.raises(ValueError, match="malformed"):
        parse_key("nb201", "__import__('os')")
    with pytest.raises(ValueError, match="malformed NB301"):
        parse_key("nb301", "[[(0, 0)], [(1, 0)]]")
    sz = load_suite_zero("tnb101_macro")
    assert len(sz.tasks) == 7 and sz.tasks["autoencoder"].shape == (725, 12)
    nb201 = load_suite_zero("nb201", target="cifar10")
    assert nb201.targets == ["cifar10"] and nb201.table.index[0].startswith("|")


def test_combine_on_suite_zero_nb201(tmp_path):
    """LIBRA on the precomputed NB201 table: nwot is z1 on CIFAR-10, and the merged score beats
    every single proxy on the same evaluation splits."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="combine", overrides=["benchmark.target=cifar10", "tracking=none", "repeats=3"])
    records = run_combine(cfg, tmp_path)
    by = {r["proxy"]: r["spearman"] for r in records}
    assert by["libra"] > 0.8 and by["libra"] > max(v for k, v in by.items() if k != "libra")
    assert by["nwot"] == pytest.approx(0.78, abs=0.03)
    diag = pd.read_csv(tmp_path / "combiner_libra_cifar10.csv").set_index("proxy")
    assert diag.loc["nwot", "role"] == "z1"
    assert (tmp_path / "combine.csv").is_file()


def test_run_mixes_precomputed_with_computed_proxies(tmp_path):
    """zcnas.run on Suite-Zero NB201 reads precomputed columns (sz_*) next to the ones it computes:
    our #params equals Suite-Zero's cell by cell, and LIBRA chooses among both kinds."""
    from zcnas.run import score_archs

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "benchmark=suite_zero_nb201", "benchmark.target=cifar10", "n_archs=120", "proxy=params",
            "benchmark.precomputed=[params,jacov,nwot,synflow]", "combiner=libra", "tracking=none"])
    out = score_archs(cfg, tmp_path)
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["arch", "params", "sz_params", "sz_jacov", "sz_nwot", "sz_synflow", "cifar10"]
    np.testing.assert_allclose(scores["params"], scores["sz_params"], rtol=1e-6)
    sz = load_suite_zero("nb201", target="cifar10").tasks["cifar10"].loc[scores["arch"]]
    np.testing.assert_array_equal(scores["sz_jacov"], sz["jacov"])
    by = {r["proxy"]: r for r in out["correlations"]}
    singles = {"params", "sz_params", "sz_jacov", "sz_nwot", "sz_synflow"}
    assert set(by) == singles | {f"{p}.held_out" for p in singles} | {"libra"}
    assert by["libra"]["n"] == 60 and by["sz_jacov"]["n"] == 120
    # every single proxy beside LIBRA on the same 60 held-out archs, and LIBRA's own scatter plot
    from zcnas.combiners.evaluate import split
    from zcnas.metrics import correlate

    held = split(120, 0.5, 0)[1]
    assert by["sz_jacov.held_out"]["n"] == 60 and by["sz_jacov.held_out"]["spearman"] == pytest.approx(
        correlate(scores["sz_jacov"].to_numpy()[held], scores["cifar10"].to_numpy()[held])["spearman"])
    assert (tmp_path / "scatter_libra_cifar10.png").stat().st_size > 5_000
    diag = pd.read_csv(tmp_path / "combiner_libra_cifar10.csv")
    assert diag["role"].eq("z1").sum() == 1 and diag["proxy"].str.startswith("sz_").any()
    # what it fitted (on the 60 calibration archs), for combiner.from= elsewhere
    from zcnas.combiners.saved import archs_digest, load

    saved = load(tmp_path / "combiner_libra_cifar10.json")
    assert saved.selected_ == diag[diag.role.str.startswith("z")].sort_values("role").proxy.tolist()
    fit = np.setdiff1d(np.arange(120), held)
    assert saved.data["fitted_on"] | {"zcnas_version": ""} == {
        "space": "nb201", "task": "cifar10", "benchmark": "suite_zero_nb201", "target": "cifar10", "protocol": "held_out",
        "seed": 0, "n_archs": 60, "archs_sha256": archs_digest(scores["arch"].to_numpy()[fit]), "zcnas_version": ""}
    with pytest.raises(ValueError, match="needs benchmark.target"):
        load_suite_zero("nb201", precomputed="all")
    with pytest.raises(ValueError, match="no precomputed proxy"):
        load_suite_zero("nb201", target="cifar10", precomputed=["lswag"])


def test_zscore_merge_survives_infinite_scores():
    """nwot is -inf on cells cut off from the input (Suite-Zero's file has them): z-scores use the
    finite values and those cells rank last instead of turning every merged score into NaN."""
    from zcnas.combiners.rank import merge

    z = pd.DataFrame({"a": [1.0, 2.0, 3.0, -np.inf, np.nan], "b": [3.0, 2.0, 1.0, 0.5, 0.0]})
    out = merge(z, "zscore")
    assert np.isfinite(out[:3]).all() and out[3] == -np.inf and out[4] == -np.inf
    za = (np.array([1.0, 2.0, 3.0]) - 2.0) / np.sqrt(2 / 3)  # a's finite values only
    zb = (np.array([3.0, 2.0, 1.0]) - 1.3) / np.sqrt(1.16)    # b: mean 1.3, std sqrt(1.16) over all 5
    np.testing.assert_allclose(out[:3], (za + zb) / 2, rtol=1e-12)


def test_aznas_combiner_is_the_published_four_term_aggregate():
    """combiner=aznas is AZ-NAS's score, Σ log(rank/N) of its three terms and FLOPs (cvlab-yonsei/AZ-NAS,
    NB201/tss_general.ipynb): on the committed 725 NB201 cells it gives the recorded ρ 0.867 vs validation accuracy
    (experiments/proxy_validation/README.md), which the three terms without FLOPs do not."""
    from hydra.utils import instantiate

    from zcnas.combiners.rank import merge

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["combiner=aznas"])
    table = pd.read_csv(ROOT / "experiments" / "proxy_validation" / "results" / "cifar10_725_scores.csv")
    four = ["aznas_expressivity", "aznas_progressivity", "aznas_trainability", "flops"]
    est = instantiate(cfg.combiner.estimator).fit(table[[*four, "nwot"]])
    got = est.predict(table[[*four, "nwot"]])
    np.testing.assert_array_equal(got, merge(table[four], "log_rank"))
    y = table["cifar10"].to_numpy()
    assert correlate(got, y, n_boot=0)["spearman"] == pytest.approx(0.867, abs=5e-4)
    assert correlate(merge(table[four[:3]], "log_rank"), y, n_boot=0)["spearman"] < 0.85
