"""The terminal says where a run is: done/total, rate and ETA in the progress line."""

from __future__ import annotations

import logging
import re

from zcnas.run import planned, progress, score_archs

from .test_run import cfg_with


def test_progress_line_has_done_total_rate_and_eta():
    assert progress(40, (100, True), 20.0) == "scored 40/100 archs (40 %), 2.00 archs/s, 20 s elapsed, ETA 30 s"
    assert progress(10, (1225, False), 5.0).startswith("scored 10/<=1225 archs (1 %), 2.00 archs/s")


def test_planned_counts_shards_and_search_budgets():
    assert planned(cfg_with("n_archs=10", "shard.count=3", "shard.index=0")) == (4, True)
    assert planned(cfg_with("n_archs=10", "shard.count=3", "shard.index=2")) == (3, True)
    assert planned(cfg_with("search=evolution")) == (50 + 19 * 50, False)
    assert planned(cfg_with("search=random", "search.n=200")) == (200, False)


def test_a_run_logs_progress_against_its_total(tmp_path, caplog):
    cfg = cfg_with("n_archs=6", "log_every=3", "space.C=4", "space.N=1", "batch_size=8", "proxy=params",
                   "tracking=none", "cache.path=null")
    with caplog.at_level(logging.INFO, logger="zcnas.run"):
        score_archs(cfg, tmp_path / "run")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scored ")]
    assert [re.match(r"scored (\d+/\d+) archs \((\d+) %\)", m).groups() for m in lines[:2]] == [("3/6", "50"), ("6/6", "100")]
    assert all("archs/s" in m and "ETA" in m for m in lines[:2])
