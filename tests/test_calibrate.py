"""L-SWAG window calibration: the per-decile record reproduces lswag for every window; the spike rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from zcnas.calibrate import calibrate, find_spike, sweep_windows
from zcnas.deciles import decile_profile
from zcnas.plan import window_key
from zcnas.probe import Probe
from zcnas.proxies import get_proxy
from zcnas.spaces.nb201 import decode

from .conftest import ROOT

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_decile_record_reproduces_lswag_for_every_window(tiny_nb201, batch16):
    torch.manual_seed(0)
    probe = Probe(tiny_nb201.build(decode(ARCH)), *batch16)
    rec = decile_profile(probe, n_splits=2, accumulate=False, bins=10)
    for lo, hi in [(0, 10), (0, 6), (3, 7), (7, 9), (10, 10)]:
        direct = get_proxy("lswag").fn(probe, lo=lo, hi=hi)
        assert rec["lam"][lo:hi + 1].sum() * rec["psi"][hi] == pytest.approx(direct, rel=1e-9)
        lam = get_proxy("lswag_lambda").fn(probe, lo=lo, hi=hi)  # Λ alone (Table 3's no-Ψ rows)
        assert lam != 0 and lam == pytest.approx(rec["lam"][lo:hi + 1].sum(), rel=1e-9)
    assert np.all(np.diff(rec["psi"]) >= 0)  # cumulative distinct-pattern counts


def test_find_spike_half_height():
    assert find_spike(np.array([0, 0, 0, 1, 4, 3, 0.5, 0, 0, 0, 0.0])) == (4, 5)
    assert find_spike(np.array([-1, -1, -1, -1, -1, -1, -1, -5, -6, -5, -1.0])) == (7, 9)
    # edge deciles (stem / head) are never the peak: AutoFormer-T's measured profile
    af = np.array([-6.81, -7.53, -7.57, -7.78, -7.94, -7.96, -8.01, -8.23, -8.06, -8.15, -7.28])
    assert find_spike(af) == (0, 2)  # peak at decile 1, grown left over the embedding


def test_sweep_windows_table():
    rng = np.random.default_rng(0)
    lam, psi = rng.random((50, 11)), np.cumsum(rng.random((50, 11)), 1)
    truth = lam[:, 2:5].sum(1) * psi[:, 4]
    table = sweep_windows(lam, psi, truth)
    assert len(table) == 66
    best = table.loc[table.spearman.idxmax()]
    assert (best.lo, best.hi) == (2, 4) and best.spearman == pytest.approx(1.0)


def test_calibrate_command_writes_window(tmp_path):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="calibrate", overrides=[
            "space.C=4", "space.N=1", "batch_size=16", "calibrate.n_archs=12", "calibrate.sweep=true",
            f"calibrate.write_to={tmp_path / 'w.yaml'}"])
    result = calibrate(cfg, tmp_path, "nb201", "cifar10")
    text = (tmp_path / "w.yaml").read_text()
    assert f"lo: {result['window'][0]}\nhi: {result['window'][1]}\n" in text
    assert result["chosen_by"] == "spike" and result["window"] == result["spike_window"]
    assert (tmp_path / "window_sweep.csv").is_file() and (tmp_path / "decile_profile.csv").is_file()


def test_decile_record_with_batch_128_counts_patterns_wider_than_one_word(tiny_nb201):
    """128 samples pack into two 64-bit words per unit: Ψ must still count them (it was 0)."""
    from zcnas.data import Task
    from zcnas.proxies.activation import count_unique_patterns

    torch.manual_seed(0)
    probe = Probe(tiny_nb201.build(decode(ARCH)), *Task().batch(128, 0))
    assert {c.shape[1] for c in probe.codes} == {2}
    rec = decile_profile(probe, n_splits=2, accumulate=False, bins=10)
    assert rec["psi"][-1] == count_unique_patterns(probe.codes) > 128  # every unit pattern, all layers
    for lo, hi in [(0, 10), (0, 6), (3, 7)]:
        direct = get_proxy("lswag").fn(probe, lo=lo, hi=hi)
        assert direct != 0 and rec["lam"][lo:hi + 1].sum() * rec["psi"][hi] == pytest.approx(direct, rel=1e-9)


def test_calibrated_window_goes_to_the_user_config_dir_and_wins_over_the_shipped_one(tmp_path):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="calibrate", overrides=[
            "space.C=4", "space.N=1", "batch_size=16", "calibrate.n_archs=6"])
    shipped = (ROOT / "conf" / "window" / "nb201_cifar10.yaml").read_text()
    result = calibrate(cfg, tmp_path, "nb201", "cifar10")
    written = tmp_path / "user_conf" / "calibrated" / "nb201_cifar10.yaml"  # $ZCNAS_CONFIG_DIR (conftest)
    assert f"lo: {result['window'][0]}\nhi: {result['window'][1]}\n" in written.read_text()
    assert (ROOT / "conf" / "window" / "nb201_cifar10.yaml").read_text() == shipped  # the source tree untouched

    def composed_window():
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            run_cfg = compose(config_name="config", overrides=["tracking=none"])
        return [run_cfg.window.lo, run_cfg.window.hi], [run_cfg.proxy.lswag.lo, run_cfg.proxy.lswag.hi]

    assert composed_window() == (result["window"], result["window"])
    written.write_text("lo: 3\nhi: 4\n")  # the shipped nb201_cifar10 window is [0, 6]
    assert composed_window() == ([3, 4], [3, 4])


def _window(config: str, overrides: list[str]) -> tuple[list[int], list[int]]:
    """The composed (window, lswag [lo, hi]) of a run (config) or the key parts of a calibration."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name=config, overrides=[*overrides, "tracking=none"])
    return [cfg.window.lo, cfg.window.hi], [cfg.proxy.lswag.lo, cfg.proxy.lswag.hi]


@pytest.mark.parametrize(("overrides", "window"), [
    ([], [0, 6]), (["task=cifar100"], [0, 6]), (["task=imagenet16_120"], [0, 6]), (["space=nb101"], [7, 9]),
    (["space=autoformer"], [7, 7]), (["space=autoformer", "space.flavour=cream"], [0, 2]),
])
def test_shipped_windows_of_the_earlier_pairs_are_unchanged(overrides, window):
    assert _window("config", overrides) == (window, window)


def test_calibration_key_names_the_tnb101_target():
    """task=tnb101 stands for several tasks: the window file is keyed by its name (benchmark.target)."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        keys = [window_key(compose(config_name="calibrate", overrides=o), space, task) for o, space, task in [
            ([], "nb201", "cifar10"), (["space=darts"], "darts", "cifar10"),
            (["space=tnb101_micro", "benchmark.target=autoencoder"], "tnb101_micro", "tnb101"),
            (["space=tnb101_macro"], "tnb101_macro", "tnb101")]]
    assert keys == ["nb201_cifar10", "darts_cifar10", "tnb101_micro_autoencoder", "tnb101_macro_jigsaw"]


def test_tnb101_window_follows_the_target_and_a_calibrated_one_wins(tmp_path):
    """conf/window/tnb101_<variant>_tnb101.yaml picks the run target's window; user-calibrated files override."""
    shipped = {}
    for variant in ("micro", "macro"):
        for target in ("autoencoder", "jigsaw"):
            text = (ROOT / "conf" / "window" / f"tnb101_{variant}_{target}.yaml").read_text()
            shipped[variant, target] = [int(line.split()[1]) for line in text.splitlines()[-2:]]
            got = _window("config", [f"space=tnb101_{variant}", f"benchmark.target={target}"])
            assert got == (shipped[variant, target], shipped[variant, target])
    user = tmp_path / "user_conf" / "calibrated"  # $ZCNAS_CONFIG_DIR (conftest)
    user.mkdir(parents=True)
    (user / "tnb101_macro_autoencoder.yaml").write_text("lo: 2\nhi: 3\n")
    assert _window("config", ["space=tnb101_macro", "benchmark.target=autoencoder"]) == ([2, 3], [2, 3])
    jigsaw = shipped["macro", "jigsaw"]
    assert _window("config", ["space=tnb101_macro", "benchmark.target=jigsaw"]) == (jigsaw, jigsaw)
    assert shipped == {("micro", "autoencoder"): [5, 8], ("micro", "jigsaw"): [0, 3],  # label-free spikes
                       ("macro", "autoencoder"): [5, 7], ("macro", "jigsaw"): [0, 2]}
    assert _window("config", ["space=darts"]) == ([6, 9], [6, 9])
