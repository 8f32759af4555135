"""Issue 18: nothing lost, nothing stale, nothing run that a file names. One test per defect the
hostile probe found (experiments/hostile_probe/ reruns all of them as real commands)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zcnas.cache import ScoreCache
from zcnas.data import Task
from zcnas.data.benchmarks import load_jsonl
from zcnas.merge import merge
from zcnas.proxies import check_params
from zcnas.run import score_archs
from zcnas.search import History
from zcnas.testing import (
    CLI_ENV,
    BlackHole,
    cli,
    closed_port,
    nb201_records,
    unprivileged,
    write_imagefolder,
)
from zcnas.tracking import MlflowTracker, find_secrets, scrub

from .test_run import cfg_with

TINY = ("space.C=4", "space.N=1", "batch_size=8", "tracking=none", "threads=1")


def last_line(proc) -> str:
    return proc.stderr.strip().splitlines()[-1]


def nothing_scored(run_dir: Path) -> bool:
    """No scores.csv, or only its header: the error came before the first architecture."""
    f = run_dir / "scores.csv"
    return not f.exists() or len(f.read_text().splitlines()) <= 1


# ---------------------------------------------------------------- 1. cache.path never destroys user data
def test_cache_path_that_is_a_directory_is_an_error_and_touches_nothing(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="is a directory; give a file in it"):
        ScoreCache(tmp_path / "mine", {})
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_cache_path_in_a_missing_folder_or_on_a_foreign_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"folder .*nowhere does not exist; create it") as err:
        ScoreCache(tmp_path / "nowhere" / "c.db", {})
    assert "->" not in str(err.value) and not (tmp_path / "nowhere").exists()
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n" * 50)
    with pytest.raises(ValueError, match="notes.txt exists and is not a SQLite score cache; it was left untouched"):
        ScoreCache(notes, {})
    assert notes.read_text() == "my notes\n" * 50 and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_only_a_damaged_sqlite_cache_is_moved_aside(tmp_path, caplog):
    db = tmp_path / "c.db"
    cache = ScoreCache(db, {})
    for i in range(300):
        cache.put(f"arch{i}", {"p": {}}, {"p": float(i)})
    cache.close()
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    raw = bytearray(db.read_bytes())
    for off in range(4096, len(raw), 97):
        raw[off] = 0xFF
    db.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING):
        fresh = ScoreCache(db, {})
    assert fresh.get("arch1", {"p": {}}) == {} and "is corrupted" in caplog.text
    assert len(list(tmp_path.glob("c.db.corrupt-*"))) == 1


# ---------------------------------------------------------------- 2. the cache is keyed on the probe batch's content
def test_replacing_the_images_under_task_root_never_serves_stale_scores(tmp_path):
    write_imagefolder(tmp_path / "imgs", 0)
    args = (*TINY, "n_archs=4", "proxy=[nwot,params]", "task.source=imagefolder", f"task.root={tmp_path / 'imgs'}",
            "cache.path=c.db")
    first = score_archs(cfg_with(*args), tmp_path / "a")["summary"]
    assert score_archs(cfg_with(*args), tmp_path / "b")["summary"]["n_cached"] == 4  # same images: cached
    write_imagefolder(tmp_path / "imgs", 1)  # same paths, new pixels
    third = score_archs(cfg_with(*args), tmp_path / "c")["summary"]
    assert first["n_computed"] == 4 and third["n_cached"] == 0 and third["n_computed"] == 4
    a, c = (pd.read_csv(tmp_path / d / "scores.csv") for d in "ac")
    assert list(a["arch"]) == list(c["arch"]) and not np.allclose(a["nwot"], c["nwot"])
    np.testing.assert_array_equal(a["params"], c["params"])  # data-free: same numbers, recomputed anyway


def test_probe_batch_digest_follows_pixels_and_labels():
    x, y, d = Task().probe_batch(8, 0)
    assert d == Task().probe_batch(8, 0)[2] and d != Task().probe_batch(8, 1)[2]
    assert d != Task(num_classes=3).probe_batch(8, 0)[2]  # labels mod 3: other targets
    xb, yb = Task().batch(8, 0)
    assert (xb == x).all() and (yb == y).all()


# ---------------------------------------------------------------- 3. benchmark=file labels
def test_jsonl_arch_with_surrounding_space_keeps_its_labels(tmp_path):
    f = tmp_path / "gt.jsonl"
    f.write_text("".join(json.dumps({**r, "arch": r["arch"] + " "}) + "\n" for r in nb201_records(6)))
    out = score_archs(cfg_with(*TINY, "benchmark=file", f"benchmark.path={f}", "proxy=params", "n_archs=6"),
                      tmp_path / "run")
    scores = pd.read_csv(tmp_path / "run" / "scores.csv")
    assert scores["cifar10"].notna().all() and out["correlations"][0]["n"] == 6


def test_jsonl_unusable_labels_are_counted_and_booleans_are_not_targets(tmp_path, caplog):
    recs = nb201_records(4)
    lines = [json.dumps({**recs[0], "converged": True})]
    lines += [json.dumps({**r, "converged": False}).replace(json.dumps(r["cifar10"]), v)
              for r, v in zip(recs[1:], ["NaN", "Infinity", "-Infinity"], strict=True)]
    f = tmp_path / "gt.jsonl"
    f.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        bench = load_jsonl(str(f))
    assert bench.targets == ["cifar10"]  # the boolean field is not a target
    assert bench.table["cifar10"].isna().sum() == 3 and np.isfinite(bench.table["cifar10"].iloc[0])
    assert "3 of 4 labels of target cifar10 are null/NaN/inf (unusable)" in caplog.text
    assert "['converged'] are not numeric and are not targets" in caplog.text
    f.write_text(json.dumps(recs[0]) + "\n" + json.dumps({**recs[1], "cifar10": "93.1"}) + "\n")
    with pytest.raises(ValueError, match=r"gt.jsonl line 2: target 'cifar10' is '93.1'; expected a number"):
        load_jsonl(str(f))


def test_run_warns_about_archs_without_usable_labels(tmp_path, caplog):
    recs = nb201_records(5)
    f = tmp_path / "gt.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs[:3]) + "".join(
        json.dumps({**r, "cifar10": None}) + "\n" for r in recs[3:]))
    with caplog.at_level(logging.WARNING):
        score_archs(cfg_with(*TINY, "benchmark=file", f"benchmark.path={f}", "proxy=params", "n_archs=5"), tmp_path / "r")
    assert "target cifar10: 2 of 5 archs have no usable label" in caplog.text


# ---------------------------------------------------------------- 4 / 11. search checkpoints
SEARCH = (*TINY, "search=random", "search.n=4", "search.fitness=params", "proxy=params")


def test_misspelt_resume_file_is_an_error_not_a_fresh_search(tmp_path):
    missing = tmp_path / "serach_history.json"
    with pytest.raises(FileNotFoundError, match=f"search.resume_from={missing} does not exist"):
        score_archs(cfg_with(*SEARCH, f"search.resume_from={missing}"), tmp_path / "run")
    assert not missing.exists() and nothing_scored(tmp_path / "run")


def test_foreign_truncated_or_crafted_checkpoints_name_the_file(tmp_path):
    f = tmp_path / "h.json"
    f.write_text(json.dumps({"foo": 1, "rows": []}))
    with pytest.raises(ValueError, match=r"h.json: not a search checkpoint written by zcnas \(keys \['foo', 'rows'\]"):
        History.load(f)
    good = History(rows=[{"arch": "a", "generation": 0, "params": 1.0}], generation=1)
    good.save(f)
    assert History.load(f) == good
    f.write_text(f.read_text()[:30])
    with pytest.raises(ValueError, match="h.json: not a readable search checkpoint .*truncated"):
        History.load(f)
    f.write_text(json.dumps({**good.__dict__, "_target_": "shutil.rmtree"}))
    with pytest.raises(ValueError, match="h.json: not a search checkpoint"):
        History.load(f)
    f.write_text(json.dumps({**good.__dict__, "generation": "1"}))
    with pytest.raises(ValueError, match="malformed values"):
        score_archs(cfg_with(*SEARCH, f"search.resume_from={f}"), tmp_path / "run")


# ---------------------------------------------------------------- 5. proxy parameters
@pytest.mark.parametrize(("name", "params", "message"), [
    ("lswag", {"lo": 8, "hi": 2}, r"proxy.lswag: lo=8, hi=2: the depth window needs 0 <= lo <= hi <= bins=10"),
    ("lswag", {"lo": "abc"}, r"proxy.lswag.lo='abc' must be an int"),
    ("lswag", {"n_splits": 1}, r"n_splits=1 must be >= 2"),
    ("lswag", {"abs_grad": "yes"}, r"proxy.lswag.abs_grad='yes' must be a bool"),
    ("jacov", {"kk": 1}, r"proxy.jacov.kk: jacov has no parameter 'kk'; valid: k"),
    ("jacov", {"k": -1.0}, r"proxy.jacov: k=-1.0 must be > 0"),
    ("nwot", {"k": 1}, r"nwot has no parameter 'k'; valid: none"),
    ("zico", {"n_splits": 1000}, r"proxy.zico.n_splits=1000 exceeds batch_size=8"),
    ("reg_swap", {"sigma": 0.0}, r"sigma=0.0 must be > 0"),
    ("reg_swap", {"mu": float("nan")}, r"proxy.reg_swap.mu=nan must be a finite float"),
])
def test_proxy_parameters_are_validated(name, params, message):
    with pytest.raises(ValueError, match=message):
        check_params(name, params, batch_size=8)


def test_every_shipped_proxy_config_passes_its_checks():
    from zcnas.proxies import list_proxies

    cfg = cfg_with("proxy=all")
    assert len(cfg.proxy) >= 20 and set(cfg.proxy) <= set(list_proxies())
    for name, params in cfg.proxy.items():
        full = check_params(name, dict(params), batch_size=64)
        assert set(params) <= set(full)


def test_bad_proxy_parameter_fails_before_any_scoring(tmp_path):
    with pytest.raises(ValueError, match="lo=8, hi=2"):
        score_archs(cfg_with(*TINY, "proxy=lswag", "proxy.lswag.lo=8", "proxy.lswag.hi=2", "n_archs=3"), tmp_path)
    assert nothing_scored(tmp_path)


# ---------------------------------------------------------------- 6. combiner prerequisites, before scoring
@pytest.mark.parametrize(("extra", "message"), [
    (("proxy=[nwot,swap]", "n_archs=40"), r"LIBRA needs the bias column 'params' \(#params; any size column \['params', 'sz_params'\] serves\)"),
    (("proxy=[nwot,params]", "n_archs=4"), r"combiner.n_fit=0.5 leaves no room: 4 labelled archs"),
    (("proxy=[nwot,params]", "n_archs=40", "benchmark=none"), r"combiner=libra needs ground truth"),
])
def test_combiner_prerequisites_fail_before_scoring(tmp_path, extra, message):
    with pytest.raises(ValueError, match=message):
        score_archs(cfg_with(*TINY, "combiner=libra", *extra), tmp_path)
    assert nothing_scored(tmp_path)


def test_libra_on_suite_zero_takes_the_precomputed_size_column(tmp_path):
    """benchmark=suite_zero_nb201 benchmark.precomputed=all combiner=libra without a computed params:
    Suite-Zero's sz_params is LIBRA's bias column (and the target follows the task)."""
    out = score_archs(cfg_with(*TINY, "benchmark=suite_zero_nb201", "benchmark.precomputed=all", "proxy=nwot",
                               "combiner=libra", "n_archs=40"), tmp_path)
    rec = next(r for r in out["correlations"] if r["proxy"] == "libra")
    assert rec["target"] == "cifar10" and rec["n"] == 20 and np.isfinite(rec["spearman"])
    diag = pd.read_csv(tmp_path / "combiner_libra_cifar10.csv")
    assert "sz_params" in set(diag["proxy"]) and (diag["role"].fillna("") != "").sum() == 3


# ---------------------------------------------------------------- 7. torn scores.csv
def test_torn_scores_csv_is_detected_and_repaired_on_rerun(tmp_path, caplog):
    args = cfg_with(*TINY, "n_archs=6", "proxy=[nwot,params]", "cache.path=c.db")
    score_archs(args, tmp_path / "run")
    good = (tmp_path / "run" / "scores.csv").read_text()
    (tmp_path / "run" / "scores.csv").write_text(good[:-25])  # cut mid-line, as a kill during a write
    with caplog.at_level(logging.WARNING):
        out = score_archs(args, tmp_path / "run")
    assert "ends in a torn line" in caplog.text and out["summary"]["n_cached"] == 6
    assert (tmp_path / "run" / "scores.csv").read_text() == good


def _two_shards(tmp: Path, *extra: str, n: int = 6) -> Path:
    for k in range(2):
        score_archs(cfg_with(*TINY, f"n_archs={n}", "proxy=[nwot,params]", "shard.count=2", f"shard.index={k}",
                             "cache.path=c.db", *extra), tmp / "sweep" / str(k))
    return tmp / "sweep"


def test_merge_refuses_a_torn_or_short_shard(tmp_path):
    sweep = _two_shards(tmp_path)
    f = sweep / "1" / "scores.csv"
    good = f.read_text()
    f.write_text(good[:-20])
    with pytest.raises(ValueError, match=r"sweep/1/scores.csv ends in a torn line .* rerun that run"):
        merge(sweep)
    f.write_text("".join(good.splitlines(keepends=True)[:-1]))  # a whole row lost
    with pytest.raises(ValueError, match=r"shard 1: .* has 2 rows but its run summary says 3"):
        merge(sweep)
    f.write_text(good)
    assert merge(sweep) == [sweep / "merged"]


# ---------------------------------------------------------------- 8. nothing from a run directory is instantiated
def test_merge_never_instantiates_what_a_shard_config_names(tmp_path):
    sweep = _two_shards(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("x")
    for k in range(2):
        cfg = sweep / str(k) / "config.yaml"
        cfg.write_text(cfg.read_text().replace(
            "combiner:\n  name: none\n  estimator: null\n",
            f"combiner:\n  name: none\n  estimator:\n    _target_: shutil.copyfile\n    src: {victim}\n"
            f"    dst: {tmp_path / 'pwned.txt'}\n"))
    proc = cli(tmp_path, "zcnas.merge", str(sweep))
    assert not (tmp_path / "pwned.txt").exists()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert last_line(proc).startswith("zcnas.merge: error: ") and "names _target_ 'shutil.copyfile'" in last_line(proc)


def test_merge_refuses_interpolations_and_targets_anywhere(tmp_path, monkeypatch):
    sweep = _two_shards(tmp_path)
    cfg = sweep / "0" / "config.yaml"
    good = cfg.read_text()
    monkeypatch.setenv("ZCNAS_TEST_SECRET", "hunter2")
    cfg.write_text(good.replace("n_archs: 6", "n_archs: 6\nleak: ${oc.env:ZCNAS_TEST_SECRET}"))
    with pytest.raises(ValueError, match=r"leak holds an interpolation"):
        merge(sweep)
    cfg.write_text(good)
    for k in range(2):  # a _target_ elsewhere is data: compared between shards, never followed
        f = sweep / str(k) / "config.yaml"
        f.write_text(f.read_text().replace("n_archs: 6", f"n_archs: 6\nhook:\n  _target_: os.system\n  command: touch {tmp_path}/pwned"))
    cfg.write_text(cfg.read_text().replace("  estimator: null\n", "  estimator:\n    _target_: zcnas.combiners.RankMean\n    _args_: [1]\n"))
    with pytest.raises(ValueError, match=r"combiner.estimator has non-plain entries \['_args_'\]"):
        merge(sweep)
    cfg.write_text(cfg.read_text().replace("    _args_: [1]\n", "").replace("estimator:\n    _target_: zcnas.combiners.RankMean\n", "estimator: null\n"))
    merge(sweep)
    assert not (tmp_path / "pwned").exists()
    assert not any("hunter2" in p.read_text(errors="ignore") for p in sweep.rglob("*") if p.is_file())


def test_a_genuine_combiner_still_merges_and_old_run_dirs_read_the_proxy_tag(tmp_path):
    sweep = _two_shards(tmp_path, "combiner=rank_mean", n=16)
    for k in range(2):  # run dirs written before run_summary.json had its "proxies" field
        f = sweep / str(k) / "run_summary.json"
        s = json.loads(f.read_text())
        assert s["proxies"] == ["nwot", "params"]
        del s["proxies"]
        f.write_text(json.dumps(s))
    merge(sweep)
    recs = json.loads((sweep / "merged" / "correlations.json").read_text())
    assert [r["proxy"] for r in recs] == ["nwot", "params", "rank_mean"]  # label-free: scored on every arch
    assert json.loads((sweep / "merged" / "run_summary.json").read_text())["proxies"] == ["nwot", "params"]


# ---------------------------------------------------------------- 9. credentials never reach a file
SECRET = "S3cretPw0rd"


def test_find_secrets_and_scrub():
    cfg = {"tracking": {"uri": f"http://alice:{SECRET}@mlflow.example.org"}, "x": {"api_token": "tok123"},
           "task": {"root": "/data"}}
    assert find_secrets(cfg) == [SECRET, "tok123"]
    assert scrub(cfg, find_secrets(cfg))["tracking"]["uri"] == "http://alice:***@mlflow.example.org"


def test_sweep_end_masks_the_password_in_multirun_yaml(tmp_path):
    """Hydra writes a multirun's overrides to <sweep_dir>/multirun.yaml after the sweep starts; the
    sweep callback masks them at its end (each job masks its own .hydra files)."""
    from hydra import compose, initialize_config_dir

    from zcnas.callbacks import SweepCallback

    from .conftest import ROOT

    uri = f"http://alice:{SECRET}@127.0.0.1:1"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"tracking.uri={uri}", f"hydra.sweep.dir={tmp_path}"],
                      return_hydra_config=True)
    (tmp_path / "multirun.yaml").write_text(f"hydra:\n  overrides:\n    task:\n    - tracking.uri={uri}\n")
    SweepCallback().on_multirun_end(cfg)
    assert SECRET not in (tmp_path / "multirun.yaml").read_text()
    assert "alice:***@127.0.0.1" in (tmp_path / "multirun.yaml").read_text()


def test_password_in_tracking_uri_is_in_no_file_nor_mlflow_artifact(tmp_path):
    uri = f"http://alice:{SECRET}@127.0.0.1:{closed_port()}"
    proc = cli(tmp_path, "zcnas.run", *TINY[:-2], "tracking=mlflow", f"tracking.uri={uri}", "n_archs=3",
               "proxy=params", "hydra.run.dir=run", "cache.path=c.db")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert SECRET not in proc.stdout + proc.stderr
    assert (tmp_path / "run" / "run.log").is_file() and (tmp_path / "run" / ".hydra" / "overrides.yaml").is_file()
    assert "alice:***@127.0.0.1" in (tmp_path / "run" / ".hydra" / "overrides.yaml").read_text()
    # the run dir logged afterwards: every artifact MLflow stores is a copy of a run-dir file
    again = cli(tmp_path, "zcnas.log", "run", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}")
    assert again.returncode == 0, again.stderr[-2000:]
    masked = cli(tmp_path, "zcnas.log", "run")
    assert masked.returncode == 1 and "never used unasked" in last_line(masked) and "http://***@127.0.0.1" in last_line(masked)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any("artifacts" in p.parts or "mlruns" in p.parts for p in files)
    leaks = [str(p.relative_to(tmp_path)) for p in files if SECRET.encode() in p.read_bytes()]
    assert not leaks, leaks


# ---------------------------------------------------------------- 10. a slow or dead tracking server
def test_tracking_check_is_bounded_for_silent_refused_and_unwritable_backends(tmp_path):
    hole = BlackHole()
    try:
        t0 = time.perf_counter()
        why = MlflowTracker(f"http://127.0.0.1:{hole.port}", timeout_s=1).check()
        assert why is not None and "timed out" in why and time.perf_counter() - t0 < 5
    finally:
        hole.close()
    assert "Connection refused" in MlflowTracker(f"http://127.0.0.1:{closed_port()}", timeout_s=1).check()
    assert "does not exist" in MlflowTracker(f"sqlite:///{tmp_path}/nowhere/m.db").check()
    assert MlflowTracker(f"sqlite:///{tmp_path}/m.db").check() is None


def test_dead_tracking_server_never_holds_results_hostage(tmp_path):
    hole = BlackHole()
    try:
        t0 = time.perf_counter()
        proc = cli(tmp_path, "zcnas.run", *TINY[:-2], "tracking=mlflow", f"tracking.uri=http://127.0.0.1:{hole.port}",
                   "tracking.timeout_s=2", "n_archs=3", "proxy=params", "hydra.run.dir=run", "cache.path=c.db",
                   timeout=200)
        seconds = time.perf_counter() - t0
    finally:
        hole.close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert seconds < 90  # was > 300 s (120 s read timeout x 7 retries)
    out = proc.stdout
    assert out.index("Spearman") < out.index("log it later with: python -m zcnas.log")
    assert "is unreachable" in proc.stdout + proc.stderr and (tmp_path / "run" / "correlations.json").is_file()


# ---------------------------------------------------------------- 11. one-line errors, not tracebacks
def test_benchmark_file_without_path_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"benchmark.path must be set \(e.g. benchmark.path=<value>"):
        score_archs(cfg_with(*TINY, "benchmark=file", "proxy=params"), tmp_path)


def test_binary_benchmark_file_names_the_file(tmp_path):
    (tmp_path / "gt.bin").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match=r"gt.bin: not a UTF-8 JSONL text file \(binary\?\)"):
        load_jsonl(str(tmp_path / "gt.bin"))


def test_corrupt_jpeg_names_the_file(tmp_path):
    write_imagefolder(tmp_path / "imgs", 0)
    (tmp_path / "imgs" / "class1" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    with pytest.raises(ValueError, match=r"class1/broken.jpg: not a readable image"):
        Task(source="imagefolder", root=str(tmp_path / "imgs")).pixels()


def test_log_of_a_run_summary_without_a_field_is_one_line(tmp_path):
    score_archs(cfg_with(*TINY, "proxy=params", "n_archs=2"), tmp_path / "run")
    f = tmp_path / "run" / "run_summary.json"
    f.write_text(json.dumps({k: v for k, v in json.loads(f.read_text()).items() if k != "seconds"}))
    proc = cli(tmp_path, "zcnas.log", "run", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert last_line(proc).startswith("zcnas.log: error: ") and "lacks the field 'seconds'" in last_line(proc)


def test_read_only_run_dir_is_one_line(tmp_path):
    """Hydra opens run.log before zcnas runs: the check is a Hydra callback. As root, permissions are
    not enforced, so the run is made as ``nobody`` (setpriv)."""
    if os.geteuid() == 0:
        tmp_path = Path(tempfile.mkdtemp(prefix="zcnas-ro-"))  # pytest's own tmp tree is private to root
    prefix = unprivileged(tmp_path)
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    proc = cli(tmp_path, "zcnas.run", *TINY, "n_archs=2", "proxy=params", f"hydra.run.dir={tmp_path / 'ro'}",
               "cache.path=c.db", prefix=prefix, env={"ZCNAS_CONFIG_DIR": str(tmp_path / "user_conf")})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-1500:]
    assert last_line(proc) == (f"zcnas.run: error: output directory {tmp_path / 'ro'} is not writable ({tmp_path / 'ro'} "
                               "is read-only or not a directory); set hydra.run.dir=<a writable directory>")


def test_unreadable_user_config_dir_is_one_line(tmp_path):
    """A config dir the user cannot read (here: inside a directory private to another user) is one line naming it
    and the fix, before any work, not a PermissionError traceback from listing the config groups."""
    tmp_path = Path(tempfile.mkdtemp(prefix="zcnas-conf-"))  # pytest's own tmp tree is private to root
    prefix = unprivileged(tmp_path)
    private = tmp_path / "private"
    (private / "zcnas").mkdir(parents=True)
    private.chmod(0o700 if prefix else 0o000)  # nobody cannot enter root's 0700; an owner cannot enter 000
    try:
        proc = cli(tmp_path, "zcnas.run", *TINY, "n_archs=2", "proxy=params", "hydra.run.dir=run", "cache.path=c.db",
                   prefix=prefix, env={"ZCNAS_CONFIG_DIR": str(private / "zcnas")})
    finally:
        private.chmod(0o755)
    assert proc.returncode == 1 and last_line(proc) == (
        f"zcnas.run: error: cannot read your config dir {private / 'zcnas'} (Permission denied): fix its permissions, "
        "or set ZCNAS_CONFIG_DIR to a readable directory") and not (tmp_path / "run").exists()


# ---------------------------------------------------------------- 12. multi-node: a cache file per shard
@pytest.mark.slow
def test_per_shard_caches_survive_a_kill_and_fold_into_the_shared_one(tmp_path, one_thread):
    """4 shards with cache.per_shard=true, shard 2 killed with SIGKILL mid-run and rerun: nothing lost,
    nothing duplicated, nothing recomputed that was done; the merge equals the unsharded run and
    folds every shard file into the shared cache, which later reruns read."""
    args = (*TINY, "n_archs=40", "proxy=[nwot,params,synflow]", "log_every=1")
    shard = lambda k: (*args, "shard.count=4", f"shard.index={k}", "cache.path=shared.db", "cache.per_shard=true")  # noqa: E731
    for k in (0, 1, 3):
        score_archs(cfg_with(*shard(k)), tmp_path / "sweep" / str(k))
    assert not (tmp_path / "shared.db").exists() and (tmp_path / "shared.db.shard0of4").is_file()
    proc = subprocess.Popen([sys.executable, "-m", "zcnas.run", *shard(2), f"hydra.run.dir={tmp_path / 'sweep' / '2'}"],
                            cwd=tmp_path, env={**os.environ, **CLI_ENV}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    csv = tmp_path / "sweep" / "2" / "scores.csv"
    deadline = time.time() + 300
    while time.time() < deadline and not (csv.is_file() and len(csv.read_text().splitlines()) >= 3):
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    done = len(csv.read_text().splitlines()) - 1
    rerun = score_archs(cfg_with(*shard(2)), tmp_path / "sweep" / "2")["summary"]
    assert rerun["n_cached"] >= done >= 2 and rerun["n_cached"] + rerun["n_computed"] == 10
    merge(tmp_path / "sweep")
    score_archs(cfg_with(*args, "cache.path=full.db"), tmp_path / "full")
    assert (tmp_path / "sweep" / "merged" / "scores.csv").read_text() == (tmp_path / "full" / "scores.csv").read_text()
    assert not list(tmp_path.glob("shared.db.shard*"))
    db = sqlite3.connect(tmp_path / "shared.db")
    seeded = "WHERE context IN (SELECT context FROM scores WHERE proxy='nwot')"  # not the seed-free #params rows
    assert db.execute(f"SELECT COUNT(*), COUNT(DISTINCT arch) FROM scores {seeded}").fetchone() == (40 * 3, 40)
    db.close()
    again = score_archs(cfg_with(*shard(1)), tmp_path / "again")["summary"]  # reads the shared file
    assert again["n_cached"] == 10 and again["n_computed"] == 0


def test_a_missing_optional_package_names_its_extra(tmp_path, monkeypatch):
    """A wheel installed without an extra: the part that needs it says which extra, in one line, before any
    scoring (MLflow: the run goes on and says how to log later)."""
    import importlib.util

    from zcnas.cli import need
    from zcnas.combiners import XGBCombiner
    from zcnas.spaces import AutoFormerSpace
    from zcnas.tracking import MlflowTracker

    real = importlib.util.find_spec
    missing = {"timm", "xgboost", "mlflow"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a))
    with pytest.raises(ValueError, match=r"^space=autoformer needs timm, which is not installed: pip install 'zcnas\[vit\]'$"):
        AutoFormerSpace()
    with pytest.raises(ValueError, match=r"^combiner=xgboost needs xgboost, .* pip install 'zcnas\[xgb\]'$"):
        XGBCombiner().check_columns(["params"])
    assert MlflowTracker(uri=f"sqlite:///{tmp_path}/m.db").check() == (
        "tracking=mlflow needs mlflow, which is not installed: pip install 'zcnas[tracking]' (or tracking=none)")
    need("numpy", "core", "anything")  # installed: nothing said
