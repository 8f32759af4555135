"""Scale-out and failure: shards merged == unsharded run (with MLflow parent/child runs), logging a
run directory afterwards, concurrent jobs on one SQLite database, and 20+ bad inputs, each a
one-line error naming the problem and the fix (or recorded and counted, where the run goes on)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import open_dict

from zcnas.cache import ScoreCache
from zcnas.data import asset_path
from zcnas.engine import probe_and_score
from zcnas.merge import main as merge_main
from zcnas.proxies import _registry
from zcnas.run import score_archs
from zcnas.spaces import NB201Space
from zcnas.tracking import MlflowTracker

from .test_run import cfg_with

TINY = ["space.C=4", "space.N=1", "batch_size=8", "proxy=[nwot,params]"]
ENV = {**os.environ, "TQDM_DISABLE": "1"}


def cli(tmp, *args, check=True):
    proc = subprocess.run([sys.executable, "-m", "zcnas.run", *args], cwd=tmp, env={**ENV, **os.environ},
                          capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_shards_merge_to_the_unsharded_run_with_mlflow_children(tmp_path):
    cli(tmp_path, "-m", "shard.count=3", "shard.index=0,1,2", "n_archs=10", *TINY, "hydra.sweep.dir=sweep")
    cli(tmp_path, "n_archs=10", *TINY, "hydra.run.dir=whole", "cache.path=other.db")
    merged, whole = tmp_path / "sweep" / "merged", tmp_path / "whole"
    assert (merged / "scores.csv").read_bytes() == (whole / "scores.csv").read_bytes()
    assert json.loads((merged / "correlations.json").read_text()) == json.loads((whole / "correlations.json").read_text())
    shard_rows = [len(pd.read_csv(tmp_path / "sweep" / str(k) / "scores.csv")) for k in range(3)]
    assert shard_rows == [4, 3, 3]
    summary = json.loads((merged / "run_summary.json").read_text())
    assert (summary["n_archs"], summary["n_computed"], summary["shards"]) == (10, 10, 3)

    import mlflow

    runs = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns.db").search_runs(["1"])
    by_name = {r.info.run_name: r for r in runs}
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags and r.info.run_name.startswith("sweep: "))
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.info.run_name.rsplit("-", 1)[1] for r in children) == [
        "merged3", "shard0of3", "shard1of3", "shard2of3"]
    assert parent.info.status == "FINISHED" and all(r.info.status == "FINISHED" for r in children)
    merged_run = next(r for r in children if r.info.run_name.endswith("merged3"))
    whole_run = by_name["nb201-cifar10-nwot+params-n10-s0"]
    assert merged_run.data.metrics["cifar10/spearman/nwot"] == whole_run.data.metrics["cifar10/spearman/nwot"]


def test_submitit_local_sweep_pickles_the_run_and_merges(tmp_path):
    """launcher=local (submitit) pickles the task function of ``python -m zcnas.run`` by value, with
    every global it reads: a lock or cache object there breaks every sweep (it did, twice)."""
    proc = cli(tmp_path, "-m", "launcher=local", "shard.count=2", "shard.index=0,1", "n_archs=4", *TINY, "seed=1",
               "tracking=none", "proxy=[nwot,tenas_lr]", "engine.in_flight=2", "hydra.sweep.dir=sweep")
    merged = pd.read_csv(tmp_path / "sweep" / "merged" / "scores.csv")
    assert len(merged) == 4 and np.isfinite(merged[["nwot", "tenas_lr"]].to_numpy()).all()
    # the terminal says where the sweep is: one line per finished job, then the sweep summary
    jobs = sorted(re.findall(r"^job (\d) done: (\d) archs in [\d.]+ s \| nwot/cifar10 ρ=", proc.stdout, re.M))
    assert jobs == [("0", "2"), ("1", "2")], proc.stdout
    assert "sweep summary" in proc.stdout and "tenas_lr" in proc.stdout.split("sweep summary")[1]


@pytest.mark.slow
def test_merge_command_names_missing_shards(tmp_path, capsys):
    cli(tmp_path, "-m", "shard.count=3", "shard.index=0,2", "n_archs=6", *TINY, "tracking=none",
        "hydra.sweep.dir=sweep", check=False)
    with pytest.raises(SystemExit, match=r"shards \[1\] of 3 are missing .*shard.index=1"):
        merge_main([str(tmp_path / "sweep")])
    with pytest.raises(SystemExit, match="no sharded runs"):
        merge_main([str(tmp_path)  + "/nowhere"])


@pytest.mark.slow
def test_unreachable_tracking_then_zcnas_log(tmp_path):
    os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="5")
    try:
        proc = cli(tmp_path, "n_archs=4", *TINY, "tracking.uri=http://127.0.0.1:9", "hydra.run.dir=run")
    finally:
        for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
            os.environ.pop(k)
    out = (proc.stdout + proc.stderr).splitlines()  # checked before scoring, said again at the end
    assert len([line for line in out if "is unreachable" in line and "python -m zcnas.log" in line]) == 1
    assert len([line for line in out if line.startswith("not logged to") and "python -m zcnas.log" in line]) == 1
    assert (tmp_path / "run" / "scores.csv").is_file() and (tmp_path / "run" / "correlations.json").is_file()
    proc = subprocess.run([sys.executable, "-m", "zcnas.log", "run", "--tracking-uri", "sqlite:///later.db"],
                          cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import mlflow

    (run,) = mlflow.MlflowClient(f"sqlite:///{tmp_path}/later.db").search_runs(["1"])
    recs = {r["proxy"]: r for r in json.loads((tmp_path / "run" / "correlations.json").read_text())}
    assert run.data.metrics["cifar10/spearman/nwot"] == recs["nwot"]["spearman"]
    proc = subprocess.run([sys.executable, "-m", "zcnas.log", "nowhere"], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].startswith("zcnas.log: error: nowhere")


def _log(args: tuple[str, str]) -> str | None:
    uri, run_dir = args
    return MlflowTracker(uri).log_dir(Path(run_dir))


@pytest.mark.slow
def test_concurrent_jobs_share_one_sqlite_db(tmp_path):
    cli(tmp_path, "n_archs=3", *TINY, "tracking=none", "hydra.run.dir=run")
    uri = f"sqlite:///{tmp_path}/shared.db"
    MlflowTracker(uri).experiment_id()  # what the sweep callback does before jobs start
    with ProcessPoolExecutor(4) as pool:
        ids = list(pool.map(_log, [(uri, str(tmp_path / "run"))] * 8))
    assert all(ids) and len(set(ids)) == 8
    import mlflow

    assert len(mlflow.MlflowClient(uri).search_runs(["1"])) == 8


def _truncate(src: str, dst: Path, keep: int = 200) -> None:
    dst.write_bytes(asset_path(src).read_bytes()[:keep])


def nb201_copy(tmp: Path, truncate: str | None = None) -> str:
    for name in ["configs.txt", "cifar10_test_accs.npy", "cifar100_test_accs.npy", "ImageNet16-120_test_accs.npy"]:
        shutil.copy(asset_path(name), tmp / name)
    if truncate:
        _truncate(truncate, tmp / truncate)
    return str(tmp)


BAD = [  # (overrides, setup(tmp) -> extra overrides, expected one-line message)
    (["n_archs=abc"], None, "n_archs='abc' must be an integer >= 1"),
    (["n_archs=0"], None, "n_archs=0 must be an integer >= 1"),
    (["n_archs=-3"], None, "n_archs=-3 must be an integer >= 1"),
    (["n_archs=1.5"], None, "n_archs=1.5 must be an integer >= 1"),
    (["n_archs=20000"], None, "n_archs=20000 exceeds the 15625 archs of benchmark nb201"),
    (["benchmark=none", "n_archs=20000"], None, "n_archs=20000 exceeds the NB201 space size 15625"),
    (["batch_size=0"], None, "batch_size=0 must be an integer >= 1"),
    (["batch_size=2000"], None, "batch_size=2000 exceeds the 1000 images of task cifar10"),
    (["seed=-1"], None, "seed=-1 must be an integer >= 0"),
    (["threads=0"], None, "threads=0 must be an integer >= 1"),
    (["engine.in_flight=0"], None, "engine.in_flight=0 must be an integer >= 1"),
    (["shard.index=3", "shard.count=3"], None, "shard.index=3 must be < shard.count=3"),
    (["shard.count=0"], None, "shard.count=0 must be an integer >= 1"),
    (["shard.count=2", "search=random"], None, "a search .* cannot be sharded"),
    (["device=tpu"], None, "device='tpu'; valid: cpu, cuda, cuda:<n>, auto"),
    (["benchmark.target=cifar11"], None, "has no target 'cifar11'; valid:"),
    ([], lambda t: [f"benchmark.path={t}/nowhere"], "lacks"),
    ([], lambda t: [f"benchmark.path={nb201_copy(t, 'cifar10_test_accs.npy')}"],
     "cifar10_test_accs.npy: not a readable .npy array .* re-copy it"),
    (["space=autoformer", "space.variant=test"], lambda t: [f"benchmark.path={t}/gt.json"]
     if (t / "gt.json").write_text('[{"arch": {"hidden_dim"') else [], "gt.json: not valid JSON"),
    (["space=autoformer", "space.variant=test"], lambda t: [f"benchmark.path={t}/gt.json"]
     if (t / "gt.json").write_text('[{"acc": 1.0}]') else [], "record 0: bad arch None"),
    (["task.source=cifar_bin"], None, "task.source=cifar_bin needs task.root=<dataset directory>"),
    (["task.source=cifar_bin"], lambda t: [f"task.root={t}/none"], "no CIFAR binary data under"),
    (["task.source=pickle", "task.root=/data"], None, "unknown task.source='pickle'; valid: shipped, noise, cifar_bin, svhn, imagefolder, flowers102, pets"),
    # precomputed columns follow the probed task by default (issue 15 part 6); a task Suite-Zero lacks is an error
    (["benchmark=suite_zero_nb201", "benchmark.precomputed=all", "benchmark.target=cifar11"], None, "has no task .cifar11.; valid:"),
    (["search=evolution", "search.fitness=nope"], None, "search.fitness='nope' must be one of the proxies"),
]


@pytest.mark.parametrize("overrides,setup,message", BAD, ids=[" ".join(b[0]) or b[2][:30] for b in BAD])
def test_bad_input_is_one_clear_error(tmp_path, overrides, setup, message):
    extra = setup(tmp_path) if setup else []
    base = ["proxy=params"] if "space=autoformer" in overrides else TINY
    cfg = cfg_with(*base, "tracking=none", "n_archs=2", *overrides, *extra)
    with pytest.raises((ValueError, KeyError, OSError)) as err:
        score_archs(cfg, tmp_path / "out")
    text = str(err.value)
    assert "\n" not in text and re.search(message, text), text


def test_unwritable_output_dir(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="output directory .*file/out is not writable .* set hydra.run.dir="):
        score_archs(cfg_with(*TINY, "tracking=none", "n_archs=2"), tmp_path / "file" / "out")


def test_malformed_arch_strings():
    space = NB201Space()
    for bad in ["|nor_conv_3x3~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "__import__('os')"]:
        with pytest.raises(ValueError, match="malformed NB201 arch string"):
            space.decode(bad)


def test_a_foreign_file_at_cache_path_is_not_trusted_nor_touched(tmp_path):
    """Not a SQLite file: a one-line error, the file left as it was (only a SQLite file failing its
    integrity check is moved aside: tests/test_reliability.py)."""
    (tmp_path / "c.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="is not a SQLite score cache; it was left untouched"):
        ScoreCache(tmp_path / "c.db", {"seed": 0})
    assert (tmp_path / "c.db").read_bytes() == b"this is not sqlite" * 100 and not list(tmp_path.glob("c.db.*"))


def test_corrupted_cache_is_not_trusted(tmp_path, caplog):
    # a SQLite header over damaged pages (a foreign file is refused untouched: test_reliability.py)
    (tmp_path / "c.db").write_bytes(b"SQLite format 3\x00" + b"this is not sqlite" * 100)
    cache = ScoreCache(tmp_path / "c.db", {"seed": 0})
    assert cache.get("x", {"nwot": {}}) == {}
    cache.put("x", {"nwot": {}}, {"nwot": 1.0})
    assert cache.get("x", {"nwot": {}}) == {"nwot": 1.0}
    assert "corrupted" in caplog.text and list(tmp_path.glob("c.db.corrupt-*"))


@pytest.fixture
def failing_proxies(monkeypatch):
    """Two extra registered proxies: one raises on every arch, one runs out of memory above 4 images."""
    def boom(probe, **_):
        raise RuntimeError("kaboom")

    def hungry(probe, **_):
        if len(probe.inputs) > 4:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return float(len(probe.inputs))

    monkeypatch.setitem(_registry._REGISTRY, "boom", _registry.ProxySpec("boom", boom, ()))
    monkeypatch.setitem(_registry._REGISTRY, "hungry", _registry.ProxySpec("hungry", hungry, ()))


def test_raising_proxy_is_nan_counted_and_run_continues(tmp_path, failing_proxies, caplog):
    cfg = cfg_with(*TINY, "tracking=none", "n_archs=3")
    with open_dict(cfg):
        cfg.proxy.boom = {}
    out = score_archs(cfg, tmp_path)
    rec = next(r for r in out["correlations"] if r["proxy"] == "boom")
    assert rec["n_nan"] == 3 and rec["n"] == 0 and math.isnan(rec["spearman"])
    assert pd.read_csv(tmp_path / "scores.csv")["boom"].isna().all()
    assert "RuntimeError: kaboom" in caplog.text


def test_out_of_memory_retries_alone_at_the_full_batch_then_nan_or_opt_in_reduced(tiny_nb201, batch16,
                                                                                  failing_proxies, caplog):
    """A score keeps its meaning: after an out-of-memory the arch is retried once at the full batch, alone;
    still out of memory -> NaN (default) or, with oom_reduce, the halved batch's score flagged by OOM_BATCH."""
    from omegaconf import OmegaConf

    from zcnas.engine import OOM_BATCH

    model = tiny_nb201.build(tiny_nb201.sample(1, np.random.default_rng(0))[0], 10)
    probe_cfg = OmegaConf.create({"share_passes": False, "share_splits": 2})
    x, y = batch16
    out = probe_and_score(model, x, y, {"hungry": {}}, probe_cfg, "a")
    assert math.isnan(out["hungry"]) and OOM_BATCH not in out
    assert caplog.text.count("retrying alone at the full batch 16") == 1 and "engine.oom_reduce=true" in caplog.text
    assert probe_and_score(model, x, y, {"hungry": {}}, probe_cfg, "a", oom_reduce=True) == {"hungry": 4.0, OOM_BATCH: 4.0}
    assert probe_and_score(model, x[:4], y[:4], {"hungry": {}}, probe_cfg, "c") == {"hungry": 4.0}  # fits: no flag
    out = probe_and_score(model, x[:2], y[:2], {"hungry": {}, "boom": {}}, probe_cfg, "b")
    assert out == {"hungry": 2.0, "boom": out["boom"]} and math.isnan(out["boom"])


def test_a_transient_out_of_memory_is_retried_alone_at_the_full_batch(tiny_nb201, batch16, monkeypatch):
    """An out-of-memory caused by other archs in flight: the retry alone succeeds, at the full batch, unflagged."""
    from omegaconf import OmegaConf

    calls = []

    def flaky(probe, **_):
        calls.append(len(probe.inputs))
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (another arch in flight)")
        return float(len(probe.inputs))

    monkeypatch.setitem(_registry._REGISTRY, "flaky", _registry.ProxySpec("flaky", flaky, ()))
    model = tiny_nb201.build(tiny_nb201.sample(1, np.random.default_rng(0))[0], 10)
    out = probe_and_score(model, *batch16, {"flaky": {}}, OmegaConf.create({"share_passes": False, "share_splits": 2}), "a")
    assert out == {"flaky": 16.0} and calls == [16, 16]


def test_the_oom_retry_runs_alone():
    """EXCLUSIVE.alone() waits for every probe in flight and holds new ones back until it is done."""
    import threading
    import time

    from zcnas.engine import _Exclusive

    lock, events = _Exclusive(), []

    def worker(name: str, hold: float) -> None:
        with lock.shared():
            events.append(f"{name}+")
            time.sleep(hold)
            events.append(f"{name}-")

    first = threading.Thread(target=worker, args=("a", 0.3))
    first.start()
    time.sleep(0.05)
    with lock.alone():
        events.append("alone+")
        later = threading.Thread(target=worker, args=("b", 0.0))
        later.start()
        time.sleep(0.1)
        events.append("alone-")
    later.join()
    first.join()
    assert events == ["a+", "a-", "alone+", "alone-", "b+", "b-"]


def test_own_stream_joins_the_callers_stream_on_exit(monkeypatch):
    """On CUDA (faked here: no GPU on CI) the arch's stream waits for the caller's at entry, the caller's waits
    for it at exit, also after an error, and each worker thread reuses one stream."""
    from zcnas import engine

    calls: list[tuple[str, str]] = []

    class FakeStream:
        def __init__(self, name: str) -> None:
            self.name = name

        def wait_stream(self, other: FakeStream) -> None:
            calls.append((self.name, other.name))

    made = []
    monkeypatch.setattr(torch.cuda, "Stream", lambda device: made.append(1) or FakeStream(f"side{len(made)}"))
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device: FakeStream("caller"))
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(engine, "_STREAMS", threading.local())
    dev = torch.device("cuda")
    with engine.own_stream(dev):
        calls.append(("work", ""))
    with pytest.raises(RuntimeError), engine.own_stream(dev):
        raise RuntimeError("a proxy failed")
    assert calls == [("side1", "caller"), ("work", ""), ("caller", "side1"), ("side1", "caller"), ("caller", "side1")]
    assert len(made) == 1


def test_numeric_policy_is_applied_on_cuda_and_keyed_there_only():
    from zcnas.engine import numeric_policy

    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        assert numeric_policy(torch.device("cpu"), True) == {"tf32": None}
        assert numeric_policy(torch.device("cuda"), False) == {"tf32": False}
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (False, False)
        assert numeric_policy(torch.device("cuda"), True) == {"tf32": True}
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (True, True)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
