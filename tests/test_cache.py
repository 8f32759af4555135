"""Score cache: reruns compute nothing; a run killed with SIGKILL resumes to the uninterrupted result."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from zcnas.cache import ScoreCache

ARGS = ["proxy=[lswag,nwot,params]", "space.C=4", "space.N=1", "batch_size=8", "tracking=none", "log_every=1"]


def run(tmp, name, *extra, wait=True):
    cmd = [sys.executable, "-m", "zcnas.run", *ARGS, f"hydra.run.dir={tmp / name}", *extra]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    if wait:
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads((tmp / name / "run_summary.json").read_text())
    return subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_cache_keys_params_and_context(tmp_path):
    a = ScoreCache(tmp_path / "c.db", {"seed": 0})
    a.put("x", {"lswag": {"lo": 0}}, {"lswag": 1.5})
    a.put("y", {"nwot": {}}, {"nwot": math.nan})
    assert a.get("x", {"lswag": {"lo": 0}}) == {"lswag": 1.5}
    assert a.get("x", {"lswag": {"lo": 1}}) == {}  # other parameters: another score
    assert math.isnan(a.get("y", {"nwot": {}})["nwot"])  # NaN is remembered, not recomputed
    assert ScoreCache(tmp_path / "c.db", {"seed": 1}).get("x", {"lswag": {"lo": 0}}) == {}


@pytest.mark.slow
def test_sigkill_then_rerun_equals_uninterrupted(tmp_path):
    full = run(tmp_path, "full", "n_archs=30", "cache.path=full.db")
    assert full["n_computed"] == 30 and full["n_cached"] == 0
    again = run(tmp_path, "again", "n_archs=30", "cache.path=full.db")
    assert again["n_cached"] == 30 and again["n_computed"] == 0

    proc = run(tmp_path, "killed", "n_archs=30", "cache.path=kill.db", wait=False)
    deadline = time.time() + 300
    while time.time() < deadline:
        csv = tmp_path / "killed" / "scores.csv"
        if csv.is_file() and len(csv.read_text().splitlines()) > 11:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = run(tmp_path, "resumed", "n_archs=30", "cache.path=kill.db")
    assert resumed["n_cached"] >= 10 and resumed["n_cached"] + resumed["n_computed"] == 30
    a = pd.read_csv(tmp_path / "full" / "scores.csv")
    b = pd.read_csv(tmp_path / "resumed" / "scores.csv")
    pd.testing.assert_frame_equal(a, b)  # every arch exactly once, identical scores


def test_bumped_proxy_version_is_recomputed(tmp_path, monkeypatch):
    """A fixed proxy (version bump) never gets its old cached scores back."""
    import dataclasses

    from zcnas.proxies import _registry
    from zcnas.run import score_archs

    from .test_run import cfg_with

    cfg = cfg_with("proxy=params", "space.C=4", "space.N=1", "n_archs=3", "tracking=none", "cache.path=c.db")
    assert score_archs(cfg, tmp_path / "a")["summary"]["n_cached"] == 0
    assert score_archs(cfg, tmp_path / "b")["summary"]["n_cached"] == 3
    bumped = dataclasses.replace(_registry._REGISTRY["params"], version=2)
    monkeypatch.setitem(_registry._REGISTRY, "params", bumped)
    assert score_archs(cfg, tmp_path / "c")["summary"]["n_computed"] == 3


def test_seed_free_scores_are_reused_across_seeds(tmp_path):
    """#params and FLOPs depend on the arch alone: a seed-1 run reads them from the seed-0 run's cache (shown by
    a value planted there), while nwot, which depends on the seed, is computed anew; the seeded keys stay as
    they were (a seed-0 rerun computes nothing)."""
    import sqlite3

    first = run(tmp_path, "s0", "seed=0", "n_archs=4", "proxy=[params,flops,nwot]", "cache.path=c.db")
    assert first["n_cached"] == 0
    s0 = pd.read_csv(tmp_path / "s0" / "scores.csv")
    db = sqlite3.connect(tmp_path / "c.db")
    free = [c for (c,) in db.execute("SELECT DISTINCT context FROM scores WHERE proxy='flops'")]
    assert len(free) == 2  # the seeded context and the seed-free one
    planted = s0.arch[0]
    for c in free:  # the seed-free row is the one a seed-1 run can find
        if db.execute("SELECT COUNT(*) FROM scores WHERE context=? AND proxy='nwot'", (c,)).fetchone()[0] == 0:
            db.execute("UPDATE scores SET value=123.0 WHERE context=? AND arch=? AND proxy='flops'", (c, planted))
    db.commit()
    db.close()
    (tmp_path / "archs.txt").write_text("\n".join(s0.arch) + "\n")
    second = run(tmp_path, "s1", "seed=1", "proxy=[params,flops,nwot]", "cache.path=c.db",
                 f"archs_from={tmp_path / 'archs.txt'}")
    s1 = pd.read_csv(tmp_path / "s1" / "scores.csv").set_index("arch").loc[s0.arch]
    assert s1.flops.iloc[0] == 123.0 and s1.flops.iloc[1:].tolist() == s0.flops.iloc[1:].tolist()
    assert s1.params.tolist() == s0.params.tolist() and second["n_cached"] == 0
    assert (s1.nwot.to_numpy() != s0.nwot.to_numpy()).all()  # another seed's networks
    assert run(tmp_path, "s0b", "seed=0", f"archs_from={tmp_path / 'archs.txt'}", "proxy=[params,flops,nwot]",
               "cache.path=c.db")["n_cached"] == 4


def test_rows_a_killed_run_did_not_get_to_write_are_restored(tmp_path):
    """A kill can fall after an arch's scores.csv row and before its cache rows, or between its seeded and its
    seed-free rows: the rerun in the same directory computes nothing and leaves every row in the cache."""
    import sqlite3

    from zcnas.run import score_archs

    from .test_run import cfg_with

    cfg = cfg_with("proxy=[params,nwot]", "space.C=4", "space.N=1", "batch_size=8", "n_archs=4", "tracking=none",
                   f"cache.path={tmp_path / 'c.db'}")
    first = score_archs(cfg, tmp_path / "r")["summary"]
    assert first["n_computed"] == 4
    db = sqlite3.connect(tmp_path / "c.db")
    archs = [a for (a,) in db.execute("SELECT DISTINCT arch FROM scores ORDER BY arch")]
    assert len(archs) == 4 and db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 12
    db.execute("DELETE FROM scores WHERE arch=?", (archs[0],))  # killed before its cache rows
    db.execute("DELETE FROM scores WHERE arch=? AND proxy='params' AND context NOT IN "  # killed before its seed-free row
               "(SELECT context FROM scores WHERE proxy='nwot')", (archs[1],))
    db.commit()
    assert db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 8
    again = score_archs(cfg, tmp_path / "r")["summary"]
    assert again["n_computed"] == 0 and again["n_cached"] == 4
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT arch) FROM scores").fetchone() == (12, 4)
    db.close()
