"""Reporting people read: progress lines with done/total, rate and ETA; scatter axes that fit the
range of the scores and say what the ground truth is."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from zcnas.plan import planned
from zcnas.results import score_axis, target_label
from zcnas.run import progress, score_archs

from .test_run import cfg_with


def test_progress_line_has_done_total_rate_and_eta():
    assert progress(40, (100, True), 20.0) == "scored 40/100 archs (40 %), 2.00 archs/s, 20 s elapsed, ETA 30 s"
    assert progress(10, (1225, False), 5.0).startswith("scored 10/<=1225 archs (1 %), 2.00 archs/s")


def test_planned_counts_shards_and_search_budgets():
    assert planned(cfg_with("n_archs=10", "shard.count=3", "shard.index=0")) == (4, True)
    assert planned(cfg_with("n_archs=10", "shard.count=3", "shard.index=2")) == (3, True)
    assert planned(cfg_with("search=evolution")) == (50 + 19 * 50, False)
    assert planned(cfg_with("search=random", "search.n=200")) == (200, False)


def test_a_run_logs_progress_against_its_total(tmp_path, caplog, monkeypatch):
    cfg = cfg_with("n_archs=6", "log_every=3", "space.C=4", "space.N=1", "batch_size=8", "proxy=params",
                   "tracking=none", "cache.path=null")
    with caplog.at_level(logging.INFO, logger="zcnas.run"):
        score_archs(cfg, tmp_path / "run")
    lines = [r.getMessage() for r in caplog.records if re.match(r"scored \d+/", r.getMessage())]
    # the first arch at once, then every log_every (and at least every 15 s, not reached here)
    assert [re.match(r"scored (\d+/\d+) archs \((\d+) %\)", m).groups() for m in lines] == \
        [("1/6", "17"), ("3/6", "50"), ("6/6", "100")]
    assert all("archs/s" in m and "ETA" in m for m in lines)
    import zcnas.run

    monkeypatch.setattr(zcnas.run, "PROGRESS_EVERY_S", 0.0)  # archs slower than the gap: a line for each
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="zcnas.run"):
        score_archs(cfg, tmp_path / "run2")
    assert len([r for r in caplog.records if re.match(r"scored \d+/", r.getMessage())]) == 6


def test_scatter_axes_fit_the_scores_and_name_the_ground_truth():
    lswag_like = np.array([3e2, 4e5, 2e8, np.nan])
    assert score_axis(lswag_like) == "log"
    assert score_axis(np.array([-5e3, 1.0, 2e4])) == "symlog"
    assert score_axis(np.array([0.0, 0.2, 0.7, 0.9])) == "linear"  # zeros do not make a range "decades"
    assert target_label("cifar10", np.array([10.0, 93.5])) == "CIFAR-10 accuracy, %"
    assert target_label("ImageNet16-120", np.array([0.1, 0.46])) == "ImageNet16-120 accuracy (fraction)"
    assert target_label("autoencoder", np.array([0.4, 0.6])) == "autoencoder"


@pytest.mark.parametrize("args,last", [
    (["n_arch=10"], "zcnas.run: error: n_arch: zcnas.run has no such setting; did you mean n_archs? (all: "),
    (["search=evolution", "n_archs=5"], "zcnas.run: error: n_archs=5 does not apply to a search (Evolution): it scores "
                                        "up to its own budget, <= 1000 archs here; drop n_archs"),
])
def test_a_key_the_run_would_ignore_is_one_line(tmp_path, args, last):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "zcnas.run", *args, "tracking=none", f"hydra.run.dir={tmp_path}/r"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith(last), r.stderr[-500:]
