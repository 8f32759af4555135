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
