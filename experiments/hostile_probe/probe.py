"""Hostile probe of zcnas (issue 18): bad inputs and faults a careful new user meets, each run as a
real command in a fresh directory and judged by what came back.

Outcomes: ``clear error`` (exit 1, last line ``zcnas.<cmd>: error: ...`` naming the problem),
``correct`` (exit 0 and the result checked), ``warning`` (exit 0, result usable, a loud warning
names the problem), ``SILENT WRONG`` (exit 0, wrong or stale result, nothing said), ``TRACEBACK``,
``UNCLEAR ERROR`` (non-zero exit without the one-line form), ``HANG`` (ran past the case's bound).

Run:  python experiments/hostile_probe/probe.py [--only name,...] [--out results.md]
Fake tracking servers listen on 127.0.0.1 only (a socket that accepts and never answers; a closed
port). Every case is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zcnas.testing import BlackHole, Result, cli, closed_port, nb201_records, unprivileged, write_imagefolder

PY = sys.executable
BASE = ["space.C=4", "space.N=1", "batch_size=8", "tracking=none", "log_every=1", "threads=1"]
SECRET = "S3cretPw0rd"


def sh(args: list[str], cwd: Path, timeout: float = 120, env: dict | None = None,
       prefix: tuple[str, ...] = ()) -> Result:
    """Run ``python -m <args>`` in ``cwd`` (:func:`zcnas.testing.cli`; returncode None on timeout)."""
    return cli(cwd, args[1], *args[2:], timeout=timeout, prefix=prefix, env=env)


def zrun(d: Path, *extra: str, timeout: float = 120, run_dir: str = "run", env: dict | None = None,
         prefix: tuple[str, ...] = ()) -> Result:
    return sh(["-m", "zcnas.run", *BASE, f"hydra.run.dir={d / run_dir}", f"cache.path={d / 'c.db'}", *extra],
              d, timeout, env, prefix)


def generic(r: Result, must: tuple[str, ...] = ()) -> str | None:
    """The outcome when it does not depend on the result: HANG / TRACEBACK / clear / unclear error."""
    if r.returncode is None:
        return "HANG"
    if "Traceback (most recent call last)" in r.text:
        return "TRACEBACK"
    if r.returncode != 0:
        ok = r.last.startswith("zcnas.") and ": error: " in r.last
        return "clear error" if ok and all(m.lower() in r.last.lower() for m in must) else "UNCLEAR ERROR"
    return None


def expect_error(r: Result, *must: str) -> str:
    """A case where the only right answer is a clear error naming ``must``."""
    return generic(r, must) or "SILENT WRONG"


@dataclass
class Case:
    name: str
    part: str
    what: str
    fn: Callable[[Path], tuple[str, str]]
    tags: list[str] = field(default_factory=list)


CASES: list[Case] = []


def case(name: str, part: str, what: str) -> Callable:
    def wrap(fn: Callable[[Path], tuple[str, str]]) -> Callable:
        CASES.append(Case(name, part, what, fn))
        return fn
    return wrap


# ---------------------------------------------------------------- 1. cache.path hazards
@case("cache_is_a_directory", "1", "cache.path=<an existing directory with a user file>")
def _(d: Path) -> tuple[str, str]:
    (d / "mydir").mkdir()
    (d / "mydir" / "thesis.tex").write_text("precious")
    r = zrun(d, "n_archs=2", "proxy=params", f"cache.path={d / 'mydir'}")
    intact = (d / "mydir" / "thesis.tex").is_file() and not list(d.glob("mydir.corrupt-*"))
    o = generic(r, ("directory",))
    if o is None:
        o = "SILENT WRONG"
    if not intact:
        o = "SILENT WRONG"
    return o, f"rc={r.returncode} dir intact={intact}: {r.last[:120]}"


@case("cache_folder_missing", "1", "cache.path=<missing folder>/c.db")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=2", "proxy=params", f"cache.path={d / 'nowhere' / 'c.db'}")
    o = expect_error(r, "nowhere")
    if o == "clear error" and ("renam" in r.last.lower() or " -> " in r.last):  # talks about moving it aside
        o = "UNCLEAR ERROR"
    return o, f"rc={r.returncode}: {r.last[:140]}"


@case("cache_not_sqlite", "1", "cache.path=<a user's text file>")
def _(d: Path) -> tuple[str, str]:
    (d / "notes.txt").write_text("my notes\n" * 100)
    r = zrun(d, "n_archs=2", "proxy=params", f"cache.path={d / 'notes.txt'}")
    intact = (d / "notes.txt").is_file() and (d / "notes.txt").read_bytes() == b"my notes\n" * 100
    o = expect_error(r, "notes.txt")
    return (o if intact else "SILENT WRONG"), f"rc={r.returncode} file intact={intact}: {r.last[:120]}"


@case("cache_corrupt_sqlite", "1", "cache.path=<a damaged SQLite score cache>")
def _(d: Path) -> tuple[str, str]:
    r0 = zrun(d, "n_archs=20", "proxy=params", run_dir="r0")
    db = d / "c.db"
    raw = bytearray(db.read_bytes())
    page = 4096
    for off in range(page, len(raw), 97):  # scribble over every page but the header page
        raw[off] = 0xFF
    db.write_bytes(bytes(raw))
    r = zrun(d, "n_archs=20", "proxy=params")
    o = generic(r)
    if o is None:
        moved = list(d.glob("c.db.corrupt-*"))
        o = "warning" if moved and "corrupt" in r.text else "SILENT WRONG"
    return o, f"rc0={r0.returncode} rc={r.returncode} moved aside={bool(list(d.glob('c.db.corrupt-*')))}: {r.last[:100]}"


# ---------------------------------------------------------------- 2. stale scores after new images
@case("imagefolder_replaced", "2", "rerun after replacing the images of task.source=imagefolder")
def _(d: Path) -> tuple[str, str]:
    write_imagefolder(d / "imgs", 0)
    args = ("n_archs=4", "proxy=[nwot,params]", "task.source=imagefolder", f"task.root={d / 'imgs'}")
    r1 = zrun(d, *args, run_dir="r1")
    write_imagefolder(d / "imgs", 1)
    r2 = zrun(d, *args, run_dir="r2")
    o = generic(r1) or generic(r2)
    if o is None:
        a = np.loadtxt(d / "r1" / "scores.csv", delimiter=",", skiprows=1, usecols=1)
        b = np.loadtxt(d / "r2" / "scores.csv", delimiter=",", skiprows=1, usecols=1)
        fresh = json.loads((d / "r2" / "run_summary.json").read_text())["n_cached"] == 0
        o = "correct" if fresh and not np.array_equal(a, b) else "SILENT WRONG"
    return o, "second run recomputed on the new images" if o == "correct" else f"rc={r2.returncode} {r2.last[:100]}"


# ---------------------------------------------------------------- 3. benchmark=file labels
def _file_run(d: Path, recs: list[dict], *extra: str, raw: str | None = None) -> Result:
    f = d / "gt.jsonl"
    f.write_text(raw if raw is not None else "".join(json.dumps(r) + "\n" for r in recs))
    return zrun(d, "benchmark=file", f"benchmark.path={f}", "proxy=params", *extra)


@case("jsonl_trailing_space", "3", "benchmark=file with arch strings ending in a space")
def _(d: Path) -> tuple[str, str]:
    recs = [{**r, "arch": r["arch"] + " "} for r in nb201_records(6)]
    r = _file_run(d, recs, "n_archs=6")
    o = generic(r)
    if o is None:
        import pandas as pd
        s = pd.read_csv(d / "run" / "scores.csv")
        o = "correct" if s["cifar10"].notna().all() else "SILENT WRONG"
    return o, f"rc={r.returncode}: {r.last[:120]}"


@case("jsonl_nan_labels", "3", "benchmark=file with NaN / Infinity accuracies")
def _(d: Path) -> tuple[str, str]:
    recs = nb201_records(4)
    raw = "".join(json.dumps(r) + "\n" for r in recs[:1])
    raw += "".join(json.dumps(r).replace(str(r["cifar10"]), v) + "\n" for r, v in zip(recs[1:], ["NaN", "Infinity", "-Infinity"], strict=True))
    r = _file_run(d, [], "n_archs=4", raw=raw)
    o = generic(r)
    if o is None:
        o = "warning" if "unusable" in r.text.lower() or ("3 of 4" in r.text and "label" in r.text.lower()) else "SILENT WRONG"
    return o, f"rc={r.returncode}"


@case("jsonl_bool_field", "3", "benchmark=file with a boolean field")
def _(d: Path) -> tuple[str, str]:
    recs = [{**r, "converged": True} for r in nb201_records(5)]
    r = _file_run(d, recs, "n_archs=5")
    o = generic(r)
    if o is None:
        header = (d / "run" / "scores.csv").read_text().splitlines()[0]
        o = "correct" if "converged" not in header else "SILENT WRONG"
    return o, f"rc={r.returncode} columns={(d / 'run' / 'scores.csv').read_text().splitlines()[0] if (d / 'run' / 'scores.csv').is_file() else '-'}"


@case("jsonl_binary_file", "11", "benchmark=file pointing at a binary file")
def _(d: Path) -> tuple[str, str]:
    (d / "gt.bin").write_bytes(bytes(range(256)) * 8)
    r = zrun(d, "benchmark=file", f"benchmark.path={d / 'gt.bin'}", "proxy=params", "n_archs=2")
    return expect_error(r, "gt.bin"), f"rc={r.returncode}: {r.last[:140]}"


@case("file_without_path", "11", "benchmark=file without benchmark.path")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "benchmark=file", "proxy=params", "n_archs=2")
    return expect_error(r, "benchmark.path"), f"rc={r.returncode}: {r.last[:140]}"


# ---------------------------------------------------------------- 4 / 11. search resume files
SEARCH = ("search=random", "search.n=4", "search.fitness=params", "proxy=params")


@case("resume_misspelt", "4", "search.resume_from=<a misspelt path>")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, *SEARCH, f"search.resume_from={d / 'serach_history.json'}")
    o = expect_error(r, "serach_history.json")
    if (d / "serach_history.json").exists():
        o = "SILENT WRONG"
    return o, f"rc={r.returncode}: {r.last[:140]}"


@case("resume_wrong_keys", "11", "search.resume_from=<a JSON file with other keys>")
def _(d: Path) -> tuple[str, str]:
    (d / "h.json").write_text(json.dumps({"foo": 1, "rows": []}))
    r = zrun(d, *SEARCH, f"search.resume_from={d / 'h.json'}")
    return expect_error(r, "h.json"), f"rc={r.returncode}: {r.last[:140]}"


@case("resume_truncated", "11", "search.resume_from=<a truncated checkpoint>")
def _(d: Path) -> tuple[str, str]:
    r0 = zrun(d, *SEARCH, run_dir="r0")
    good = (d / "r0" / "search_history.json").read_text() if r0.returncode == 0 else '{"rows": [{"arch": "x"'
    (d / "h.json").write_text(good[: len(good) // 2])
    r = zrun(d, *SEARCH, f"search.resume_from={d / 'h.json'}")
    return expect_error(r, "h.json"), f"rc={r.returncode}: {r.last[:140]}"


@case("resume_crafted_target", "8", "search.resume_from=<a checkpoint naming a _target_>")
def _(d: Path) -> tuple[str, str]:
    (d / "h.json").write_text(json.dumps({"rows": [], "population": [], "generation": 0, "rng_state": None,
                                          "_target_": "shutil.rmtree", "path": str(d)}))
    r = zrun(d, *SEARCH, f"search.resume_from={d / 'h.json'}")
    return expect_error(r, "h.json"), f"rc={r.returncode}: {r.last[:140]}"


# ---------------------------------------------------------------- 5. proxy parameters
@case("lswag_lo_gt_hi", "5", "proxy.lswag.lo=8 proxy.lswag.hi=2")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=3", "proxy=lswag", "proxy.lswag.lo=8", "proxy.lswag.hi=2")
    return expect_error(r, "lo"), f"rc={r.returncode}: {r.last[:140]}"


@case("lswag_lo_abc", "5", "proxy.lswag.lo=abc")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=3", "proxy=lswag", "proxy.lswag.lo=abc")
    return expect_error(r, "lo"), f"rc={r.returncode}: {r.last[:140]}"


@case("proxy_unknown_param", "5", "proxy=jacov +proxy.jacov.kk=1 (misspelt parameter)")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=3", "proxy=jacov", "+proxy.jacov.kk=1")
    return expect_error(r, "kk"), f"rc={r.returncode}: {r.last[:140]}"


@case("proxy_bad_range", "5", "proxy=jacov proxy.jacov.k=-1 / proxy.zico.n_splits=1000")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=3", "proxy=jacov", "proxy.jacov.k=-1")
    r2 = zrun(d, "n_archs=3", "proxy=zico", "proxy.zico.n_splits=1000", run_dir="r2")
    a, b = expect_error(r, "k"), expect_error(r2, "n_splits")
    return (a if a != "clear error" else b), f"{r.last[:70]} | {r2.last[:70]}"


# ---------------------------------------------------------------- 6. combiner prerequisites
@case("libra_without_params", "6", "combiner=libra without a size column")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=40", "proxy=[nwot,swap]", "combiner=libra")
    o = expect_error(r, "params")
    early = "scored" not in r.text
    return (o if early else ("UNCLEAR ERROR" if o == "clear error" else o)), \
        f"rc={r.returncode} before scoring={early}: {r.last[:100]}"


@case("libra_too_few", "6", "combiner=libra with n_archs=4")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=4", "proxy=[nwot,params]", "combiner=libra")
    o = expect_error(r, "n_fit")
    early = "scored" not in r.text
    return (o if early else ("UNCLEAR ERROR" if o == "clear error" else o)), \
        f"rc={r.returncode} before scoring={early}: {r.last[:100]}"


@case("libra_suite_zero_sz_params", "6/15.6", "benchmark=suite_zero_nb201 benchmark.precomputed=all proxy=lswag combiner=libra")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=40", "benchmark=suite_zero_nb201", "benchmark.precomputed=all", "proxy=params",
             "combiner=libra")
    o = generic(r)
    if o is None:
        recs = json.loads((d / "run" / "correlations.json").read_text())
        o = "correct" if any(x["proxy"] == "libra" for x in recs) else "SILENT WRONG"
    return o, f"rc={r.returncode}: {r.last[:120]}"


# ---------------------------------------------------------------- 7. torn scores.csv
@case("torn_scores_rerun", "7", "scores.csv truncated mid-line (kill during a write), rerun into the same dir")
def _(d: Path) -> tuple[str, str]:
    args = ("n_archs=6", "proxy=[nwot,params]")
    r1 = zrun(d, *args)
    good = (d / "run" / "scores.csv").read_text()
    (d / "run" / "scores.csv").write_text(good[: len(good) - 25])  # mid-line
    (d / "run" / "run_summary.json").unlink()
    r2 = zrun(d, *args)
    o = generic(r1) or generic(r2)
    if o is None:
        fixed = (d / "run" / "scores.csv").read_text() == good
        o = ("warning" if "torn line" in r2.text.lower() else "correct") if fixed else "SILENT WRONG"
    return o, f"rc={r2.returncode}"


@case("torn_shard_merge", "7", "zcnas.merge over a shard whose scores.csv lost its last line mid-way")
def _(d: Path) -> tuple[str, str]:
    for k in range(2):
        zrun(d, "n_archs=6", "proxy=[nwot,params]", "shard.count=2", f"shard.index={k}", run_dir=f"sweep/{k}")
    f = d / "sweep" / "1" / "scores.csv"
    f.write_text(f.read_text()[:-20])
    r = sh(["-m", "zcnas.merge", str(d / "sweep")], d)
    return expect_error(r, "scores.csv"), f"rc={r.returncode}: {r.last[:140]}"


# ---------------------------------------------------------------- 8. security
@case("merge_crafted_target", "8", "zcnas.merge over a shard config.yaml naming a _target_")
def _(d: Path) -> tuple[str, str]:
    for k in range(2):
        zrun(d, "n_archs=6", "proxy=[nwot,params]", "shard.count=2", f"shard.index={k}", run_dir=f"sweep/{k}")
    (d / "victim.txt").write_text("x")
    for k in range(2):
        cfg = d / "sweep" / str(k) / "config.yaml"
        text = cfg.read_text().replace("combiner:\n  name: none\n  estimator: null\n",
                                       f"combiner:\n  name: none\n  estimator:\n    _target_: shutil.copyfile\n"
                                       f"    src: {d / 'victim.txt'}\n    dst: {d / 'pwned.txt'}\n")
        cfg.write_text(text)
    r = sh(["-m", "zcnas.merge", str(d / "sweep")], d)
    ran = (d / "pwned.txt").exists()
    o = "SILENT WRONG" if ran else (generic(r, ("_target_",)) or "correct")
    return o, f"rc={r.returncode} instantiated={ran}: {r.last[:110]}"


@case("merge_crafted_interpolation", "8", "zcnas.merge over a shard config.yaml with ${oc.env:...}")
def _(d: Path) -> tuple[str, str]:
    for k in range(2):
        zrun(d, "n_archs=6", "proxy=[nwot,params]", "shard.count=2", f"shard.index={k}", run_dir=f"sweep/{k}")
    for k in range(2):
        cfg = d / "sweep" / str(k) / "config.yaml"
        cfg.write_text(cfg.read_text().replace("n_archs: 6", "n_archs: 6\nleak: ${oc.env:ZCNAS_PROBE_SECRET}"))
    r = sh(["-m", "zcnas.merge", str(d / "sweep")], d, env={"ZCNAS_PROBE_SECRET": SECRET})
    leaked = any(SECRET in p.read_text(errors="ignore") for p in (d / "sweep").rglob("*") if p.is_file())
    o = "SILENT WRONG" if leaked else (generic(r, ("interpolation",)) or "correct")
    return o, f"rc={r.returncode} leaked={leaked}: {r.last[:110]}"


def _grep_secret(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


@case("password_in_tracking_uri", "9", "tracking.uri=http://alice:<pw>@127.0.0.1:<closed port>")
def _(d: Path) -> tuple[str, str]:
    port = closed_port()
    r = zrun(d, "n_archs=2", "proxy=params", "tracking=mlflow",
             f"tracking.uri=http://alice:{SECRET}@127.0.0.1:{port}", timeout=200)
    leaks = _grep_secret(d / "run")
    o = generic(r) or ("SILENT WRONG" if leaks or SECRET in r.text else "correct")
    return o, f"rc={r.returncode} files with the password: {leaks or 'none'}"


# ---------------------------------------------------------------- 10. slow / dead tracking server
def _tracking_case(d: Path, uri: str, bound: float, prefix: tuple[str, ...] = ()) -> tuple[str, str]:
    r = zrun(d, "n_archs=2", "proxy=params", "tracking=mlflow", f"tracking.uri={uri}", timeout=bound, prefix=prefix)
    o = generic(r)
    told = "zcnas.log" in r.text
    if o is None:
        o = "warning" if told and (d / "run" / "correlations.json").is_file() else "SILENT WRONG"
    return o, f"rc={r.returncode} {r.seconds:.0f} s (bound {bound:.0f} s), 'log it later' line={told}"


@case("tracking_black_hole", "10", "tracking.uri=http://127.0.0.1:<accepts, never answers>")
def _(d: Path) -> tuple[str, str]:
    hole = BlackHole()
    try:
        return _tracking_case(d, f"http://127.0.0.1:{hole.port}", 90)
    finally:
        hole.close()


@case("tracking_refused", "10", "tracking.uri=http://127.0.0.1:<closed port>")
def _(d: Path) -> tuple[str, str]:
    return _tracking_case(d, f"http://127.0.0.1:{closed_port()}", 60)


@case("tracking_unwritable_sqlite", "10", "tracking.uri=sqlite:///<read-only dir>/m.db")
def _(d: Path) -> tuple[str, str]:
    (d / "ro").mkdir()
    (d / "ro").chmod(0o555)
    try:
        return _tracking_case(d, f"sqlite:///{d / 'ro' / 'm.db'}", 60, unprivileged(d))
    finally:
        (d / "ro").chmod(0o755)


# ---------------------------------------------------------------- 11. tracebacks
@case("readonly_run_dir", "11", "hydra.run.dir=<a read-only directory>")
def _(d: Path) -> tuple[str, str]:
    (d / "ro").mkdir()
    (d / "ro").chmod(0o555)
    try:
        r = sh(["-m", "zcnas.run", *BASE, "n_archs=2", "proxy=params", f"hydra.run.dir={d / 'ro'}",
                f"cache.path={d / 'c.db'}"], d, prefix=unprivileged(d))
    finally:
        (d / "ro").chmod(0o755)
    return expect_error(r, "writable"), f"rc={r.returncode}: {r.last[:140]}"


@case("user_config_unreadable", "11", "ZCNAS_CONFIG_DIR inside a directory the user cannot enter")
def _(d: Path) -> tuple[str, str]:
    prefix = unprivileged(d)
    private = d / "private"
    (private / "zcnas").mkdir(parents=True)
    private.chmod(0o700 if prefix else 0o000)
    try:
        r = zrun(d, "n_archs=2", "proxy=params", prefix=prefix, env={"ZCNAS_CONFIG_DIR": str(private / "zcnas")})
    finally:
        private.chmod(0o755)
    return expect_error(r, "config dir", "ZCNAS_CONFIG_DIR"), f"rc={r.returncode}: {r.last[:140]}"


@case("log_summary_lacks_field", "11", "zcnas.log on a run whose run_summary.json lacks a field")
def _(d: Path) -> tuple[str, str]:
    zrun(d, "n_archs=2", "proxy=params")
    s = json.loads((d / "run" / "run_summary.json").read_text())
    s.pop("seconds")
    (d / "run" / "run_summary.json").write_text(json.dumps(s))
    r = sh(["-m", "zcnas.log", str(d / "run"), "--tracking-uri", f"sqlite:///{d / 'm.db'}"], d)
    return expect_error(r, "run_summary.json"), f"rc={r.returncode}: {r.last[:140]}"


@case("corrupt_jpeg", "11", "task.source=imagefolder with a corrupt JPEG")
def _(d: Path) -> tuple[str, str]:
    write_imagefolder(d / "imgs", 0)
    (d / "imgs" / "class1" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    r = zrun(d, "n_archs=2", "proxy=params", "task.source=imagefolder", f"task.root={d / 'imgs'}")
    return expect_error(r, "broken.jpg"), f"rc={r.returncode}: {r.last[:140]}"


# ---------------------------------------------------------------- kill -9 and rerun (control)
@case("kill9_rerun_exact", "7", "kill -9 mid-run, rerun with the same cache equals an uninterrupted run")
def _(d: Path) -> tuple[str, str]:
    args = [*BASE, "n_archs=16", "proxy=[nwot,params]", f"cache.path={d / 'k.db'}"]
    full = zrun(d, "n_archs=16", "proxy=[nwot,params]", f"cache.path={d / 'f.db'}", run_dir="full")
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([PY, "-m", "zcnas.run", *args, f"hydra.run.dir={d / 'killed'}"], cwd=d, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        f = d / "killed" / "scores.csv"
        if f.is_file() and len(f.read_text().splitlines()) > 6:
            break
        time.sleep(0.05)
    p.kill()
    p.wait()
    again = zrun(d, "n_archs=16", "proxy=[nwot,params]", f"cache.path={d / 'k.db'}", run_dir="killed")
    o = generic(full) or generic(again)
    if o is None:
        same = (d / "full" / "scores.csv").read_text() == (d / "killed" / "scores.csv").read_text()
        o = "correct" if same else "SILENT WRONG"
    return o, f"rerun cached {json.loads((d / 'killed' / 'run_summary.json').read_text())['n_cached']} of 16" \
        if o == "correct" else f"rc={again.returncode}"



# ---------------------------------------------------------------- 12-21. a run directory is untrusted data (issue 29)
ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
NB201_SPACE = {"_target_": "zcnas.spaces.NB201Space", "C": 4, "N": 1}


def _selection(d: Path, space: object, **extra: object) -> Path:
    run = d / "shared_run"
    run.mkdir(exist_ok=True)
    (run / "selected_arch.json").write_text(json.dumps({"arch": ARCH, "space": space, "num_classes": 10, **extra}))
    return run


def _tree(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def _secure(r: Result, d: Path, before: list[str], *must: str) -> str:
    """A case an attacker wrote: code run (MARK) or a file created outside the command's target is SECURITY."""
    if (d / "MARK").exists() or list(d.rglob("ESCAPED*")) or "Beautiful is better than ugly" in r.text:
        return "SECURITY"
    if set(_tree(d)) != set(before):
        return "SECURITY"
    return expect_error(r, *must)


@case("export_target_popen", "12", "zcnas.export of a run dir whose selected_arch.json space is subprocess.Popen")
def _(d: Path) -> tuple[str, str]:
    run = _selection(d, {"_target_": "subprocess.Popen", "args": ["touch", str(d / "MARK")]})
    before = _tree(d)
    r = sh(["-m", "zcnas.export", str(run)], d)
    return _secure(r, d, before, "zcnas's spaces"), f"rc={r.returncode}: {r.last[:120]}"


@case("export_import_module", "12", "zcnas.export of a space _target_ naming another module (this.Nothing)")
def _(d: Path) -> tuple[str, str]:
    run = _selection(d, {"_target_": "this.Nothing"})
    before = _tree(d)
    r = sh(["-m", "zcnas.export", str(run)], d)
    return _secure(r, d, before, "zcnas's spaces"), f"rc={r.returncode}: {r.last[:120]}"


@case("export_config_yaml_target", "12", "zcnas.export: no space in selected_arch.json, config.yaml's names Popen")
def _(d: Path) -> tuple[str, str]:
    run = d / "shared_run"
    run.mkdir()
    (run / "selected_arch.json").write_text(json.dumps({"arch": ARCH}))
    (run / "config.yaml").write_text(f"space:\n  _target_: subprocess.Popen\n  args: [touch, {d / 'MARK'}]\n"
                                     "task:\n  num_classes: 10\n")
    before = _tree(d)
    r = sh(["-m", "zcnas.export", str(run)], d)
    return _secure(r, d, before, "zcnas's spaces"), f"rc={r.returncode}: {r.last[:120]}"


@case("export_yaml_python_tag", "12", "zcnas.export: config.yaml with a !!python/object/apply tag")
def _(d: Path) -> tuple[str, str]:
    run = d / "shared_run"
    run.mkdir()
    (run / "selected_arch.json").write_text(json.dumps({"arch": ARCH}))
    (run / "config.yaml").write_text(f"space: !!python/object/apply:os.system ['touch {d / 'MARK'}']\n")
    before = _tree(d)
    r = sh(["-m", "zcnas.export", str(run)], d)
    return _secure(r, d, before, "yaml"), f"rc={r.returncode}: {r.last[:120]}"


@case("export_name_traversal", "12", "zcnas.export: space.name=x/../../../ESCAPED")
def _(d: Path) -> tuple[str, str]:
    run = _selection(d, {**NB201_SPACE, "name": "x/../../../ESCAPED"})
    before = _tree(d)
    r = sh(["-m", "zcnas.export", str(run)], d)
    return _secure(r, d, before, "space.name"), f"rc={r.returncode}: {r.last[:120]}"


@case("build_arch_from_target", "12", "zcnas.build arch_from=<run dir whose space is subprocess.Popen>")
def _(d: Path) -> tuple[str, str]:
    run = _selection(d, {"_target_": "subprocess.Popen", "args": ["touch", str(d / "MARK")]})
    before = _tree(d)
    r = sh(["-m", "zcnas.build", f"arch_from={run}", "recipe=nb201", "recipe.epochs=1",
            f"hydra.run.dir={d / 'b'}"], d)
    before += [p for p in _tree(d) if p == "b" or p.startswith("b/")]  # the build's own run dir
    return _secure(r, d, before, "zcnas's spaces"), f"rc={r.returncode}: {r.last[:120]}"


@case("export_through_planted_link", "13", "zcnas.export: the run dir's export/ is a link to another folder")
def _(d: Path) -> tuple[str, str]:
    run = _selection(d, NB201_SPACE)
    (d / "victim").mkdir()
    (run / "export").symlink_to(d / "victim", target_is_directory=True)
    r = sh(["-m", "zcnas.export", str(run)], d)
    o = expect_error(r, "link")
    return ("SECURITY" if list((d / "victim").iterdir()) else o), f"rc={r.returncode}: {r.last[:120]}"


def _finished_run(d: Path) -> Path:
    r = zrun(d, "n_archs=3", "proxy=params", run_dir="shared_run")
    assert r.returncode == 0, r.stderr[-500:]
    return d / "shared_run"


@case("log_symlinked_scores", "13", "zcnas.log: scores.csv is a link to a private file")
def _(d: Path) -> tuple[str, str]:
    run = _finished_run(d)
    (d / "private.txt").write_text("PRIVATE-KEY-123")
    (run / "scores.csv").unlink()
    (run / "scores.csv").symlink_to(d / "private.txt")
    r = sh(["-m", "zcnas.log", str(run), "--tracking-uri", f"sqlite:///{d / 'm.db'}"], d)
    leaked = [p for p in d.rglob("*") if p.is_file() and not p.is_symlink() and p.name != "private.txt"
              and b"PRIVATE-KEY-123" in p.read_bytes()]
    o = generic(r) or ("warning" if "not uploaded" in r.text else "SILENT WRONG")
    return ("SECURITY" if leaked else o), f"rc={r.returncode} leaked={len(leaked)}"


@case("log_symlinked_config", "13", "zcnas.log: config.yaml is a link to a file outside the run dir")
def _(d: Path) -> tuple[str, str]:
    run = _finished_run(d)
    (run / "config.yaml").rename(d / "elsewhere.yaml")
    (run / "config.yaml").symlink_to(d / "elsewhere.yaml")
    r = sh(["-m", "zcnas.log", str(run), "--tracking-uri", f"sqlite:///{d / 'm.db'}"], d)
    return expect_error(r, "link"), f"rc={r.returncode}: {r.last[:120]}"


@case("log_planted_tracking_uri", "14", "zcnas.log: config.yaml's tracking.uri names the user's own SQLite file")
def _(d: Path) -> tuple[str, str]:
    import sqlite3

    run = _finished_run(d)
    victim = d / "users.db"
    with sqlite3.connect(victim) as db:
        db.execute("CREATE TABLE people (name TEXT)")
    before = victim.read_bytes()
    cfg = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(cfg.replace("tracking:\n", f"tracking:\n  uri: sqlite:///{victim}\n", 1))
    r = sh(["-m", "zcnas.log", str(run)], d, env={"MLFLOW_TRACKING_URI": ""})
    o = expect_error(r, "tracking.uri")
    return ("USER FILE ALTERED" if victim.read_bytes() != before else o), f"rc={r.returncode}: {r.last[:120]}"


def _user_db(d: Path, schema: str) -> tuple[Path, bytes]:
    import sqlite3

    db = d / "mine.db"
    with sqlite3.connect(db) as conn:
        conn.execute(schema)
    return db, db.read_bytes()


@case("cache_user_sqlite", "14", "cache.path=<the user's own SQLite database>")
def _(d: Path) -> tuple[str, str]:
    db, before = _user_db(d, "CREATE TABLE people (name TEXT)")
    r = zrun(d, "n_archs=2", "proxy=params", f"cache.path={db}")
    o = expect_error(r, "did not create")
    altered = db.read_bytes() != before or len(list(d.glob("mine.db*"))) > 1
    return ("USER FILE ALTERED" if altered else o), f"rc={r.returncode}: {r.last[:120]}"


@case("cache_user_sqlite_scores_table", "14", "cache.path=<a user's database with a scores table of its own>")
def _(d: Path) -> tuple[str, str]:
    db, before = _user_db(d, "CREATE TABLE scores (who TEXT, what REAL)")
    r = zrun(d, "n_archs=2", "proxy=params", f"cache.path={db}")
    o = expect_error(r, "did not create")
    altered = db.read_bytes() != before or len(list(d.glob("mine.db*"))) > 1
    return ("USER FILE ALTERED" if altered else o), f"rc={r.returncode}: {r.last[:120]}"


@case("space_C_zero", "15", "space.C=0 (no network has 0 channels)")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=2", "proxy=params", "space.C=0")
    return expect_error(r, "space.C=0"), f"rc={r.returncode}: {r.last[:120]}"


@case("space_N_negative", "15", "space.N=-1")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=2", "proxy=params", "space.N=-1")
    return expect_error(r, "space.N=-1"), f"rc={r.returncode}: {r.last[:120]}"


@case("recipe_epochs_negative", "15", "zcnas.build recipe.epochs=-1")
def _(d: Path) -> tuple[str, str]:
    r = sh(["-m", "zcnas.build", "space.C=4", "space.N=1", "n_archs=1", "recipe.epochs=-1", f"hydra.run.dir={d / 'b'}"], d)
    return expect_error(r, "recipe.epochs=-1"), f"rc={r.returncode}: {r.last[:120]}"


@case("run_dir_in_use", "16", "a second run into a directory another live run holds")
def _(d: Path) -> tuple[str, str]:
    (d / "run").mkdir()
    (d / "run" / ".zcnas_run.lock").write_text(f"{socket.gethostname()} {os.getpid()}")  # this probe: alive
    r = zrun(d, "n_archs=2", "proxy=params")
    o = expect_error(r, "in use")
    return ("SILENT WRONG" if (d / "run" / "scores.csv").exists() else o), f"rc={r.returncode}: {r.last[:120]}"


@case("plain_run_after_search", "16", "a plain run into a search's directory, then zcnas.export of it")
def _(d: Path) -> tuple[str, str]:
    r1 = zrun(d, *SEARCH)
    r2 = zrun(d, "n_archs=2", "proxy=params")
    r3 = sh(["-m", "zcnas.export", str(d / "run")], d)
    o = generic(r1) or generic(r2) or expect_error(r3, "selected_arch.json")
    return o, f"rc={r1.returncode},{r2.returncode},{r3.returncode}: {r3.last[:100]}"


@case("unknown_key_plus", "17", "+n_arch=2 (the fix Hydra prints for a typo)")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "proxy=params", "+n_arch=2")
    return expect_error(r, "n_archs"), f"rc={r.returncode}: {r.last[:120]}"


@case("unknown_key_nested", "17", "+probe.batchseed=1")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "n_archs=2", "proxy=params", "+probe.batchseed=1")
    return expect_error(r, "batch_seed"), f"rc={r.returncode}: {r.last[:120]}"


@case("cache_held_exclusive", "18", "another process holds the cache (BEGIN EXCLUSIVE) for the whole run")
def _(d: Path) -> tuple[str, str]:
    import sqlite3

    r0 = zrun(d, "n_archs=2", "proxy=params", run_dir="r0")
    holder = sqlite3.connect(d / "c.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        r = zrun(d, "n_archs=3", "proxy=[params,flops]", timeout=200)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    return expect_error(r, "c.db"), f"rc0={r0.returncode} rc={r.returncode} {r.seconds:.0f} s: {r.last[:100]}"


@case("shard_cache_corrupt_at_merge", "18", "zcnas.merge over shards whose per-shard cache file is corrupt")
def _(d: Path) -> tuple[str, str]:
    args = ("n_archs=4", "proxy=params", "shard.count=2", "cache.per_shard=true")
    r0 = zrun(d, *args, "shard.index=0", run_dir="sw/s0")
    r1 = zrun(d, *args, "shard.index=1", run_dir="sw/s1")
    shard = d / "c.db.shard1of2"
    shard.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    r = sh(["-m", "zcnas.merge", str(d / "sw")], d)
    o = generic(r0) or generic(r1) or expect_error(r, "shard1of2")
    return ("SILENT WRONG" if not shard.exists() else o), f"rc={r.returncode}: {r.last[:120]}"


@case("search_population_zero", "19", "search=evolution search.population=0")
def _(d: Path) -> tuple[str, str]:
    r = zrun(d, "search=evolution", "search.population=0", "search.fitness=params", "proxy=params")
    return expect_error(r, "search.population"), f"rc={r.returncode}: {r.last[:120]}"


@case("resume_lacks_proxy", "19", "search.resume_from=<a history scored with other proxies>")
def _(d: Path) -> tuple[str, str]:
    (d / "h.json").write_text(json.dumps({"rows": [{"arch": ARCH, "nwot": 1.0}], "generation": 1, "rng_state": None}))
    r = zrun(d, "search=evolution", f"search.resume_from={d / 'h.json'}", "search.fitness=params", "proxy=params")
    return expect_error(r, "lack", "params"), f"rc={r.returncode}: {r.last[:120]}"


@case("run_dir_non_ascii", "20", "hydra.run.dir=<a path with ü>")
def _(d: Path) -> tuple[str, str]:
    r = sh(["-m", "zcnas.run", *BASE, "n_archs=2", "proxy=params", f"hydra.run.dir={d / 'rün'}"], d)
    return expect_error(r, "quoted"), f"rc={r.returncode}: {r.last[:120]}"


@case("run_dir_newline", "20", "hydra.run.dir=<a path with a line break>")
def _(d: Path) -> tuple[str, str]:
    r = sh(["-m", "zcnas.run", *BASE, "n_archs=2", "proxy=params", f"hydra.run.dir={d / 'a'}\nb"], d)
    return expect_error(r, "quoted"), f"rc={r.returncode}: {r.last[:120]}"


@case("multirun_password_failed_jobs", "21", "a multirun whose jobs fail, cache.url with a password")
def _(d: Path) -> tuple[str, str]:
    r = sh(["-m", "zcnas.run", "-m", *BASE, "n_archs=2", "proxy=params", f"hydra.sweep.dir={d / 'sw'}",
            f"cache.url=postgresql://bob:{SECRET}@127.0.0.1:{closed_port()}/db", "seed=0,1"], d)
    leaks = _grep_secret(d)
    o = "SECURITY" if leaks or SECRET in r.text else (generic(r, ("cache.url",)) or "SILENT WRONG")
    return o, f"rc={r.returncode} files with the password: {leaks}"


# ---------------------------------------------------------------- 22. YAML features, sizes and link loops in run dirs
def _alias_bomb() -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


@case("log_yaml_alias_bomb", "22", "zcnas.log: config.yaml with nested YAML aliases (9^10 nodes when walked)")
def _(d: Path) -> tuple[str, str]:
    run = _finished_run(d)
    with (run / "config.yaml").open("a") as f:
        f.write(_alias_bomb())
    r = sh(["-m", "zcnas.log", str(run), "--tracking-uri", f"sqlite:///{d / 'm.db'}"], d, timeout=90)
    return expect_error(r, "aliases"), f"rc={r.returncode} {r.seconds:.0f} s: {r.last[:110]}"


@case("merge_yaml_alias_bomb", "22", "zcnas.merge over a shard whose config.yaml has nested aliases")
def _(d: Path) -> tuple[str, str]:
    args = ("n_archs=4", "proxy=params", "shard.count=2")
    r0 = zrun(d, *args, "shard.index=0", run_dir="sw/s0")
    r1 = zrun(d, *args, "shard.index=1", run_dir="sw/s1")
    with (d / "sw" / "s1" / "config.yaml").open("a") as f:
        f.write(_alias_bomb())
    r = sh(["-m", "zcnas.merge", str(d / "sw")], d, timeout=90)
    return generic(r0) or generic(r1) or expect_error(r, "aliases"), f"rc={r.returncode} {r.seconds:.0f} s: {r.last[:100]}"


@case("export_huge_config", "22", "zcnas.export: a 50 MB config.yaml")
def _(d: Path) -> tuple[str, str]:
    run = d / "shared_run"
    run.mkdir()
    (run / "selected_arch.json").write_text(json.dumps({"arch": ARCH}))
    (run / "config.yaml").write_text("space:\n  _target_: zcnas.spaces.NB201Space\npad: '" + "x" * 50_000_000 + "'\n")
    r = sh(["-m", "zcnas.export", str(run)], d, timeout=90)
    return expect_error(r, "MiB"), f"rc={r.returncode} {r.seconds:.0f} s: {r.last[:110]}"


@case("log_link_loop", "22", "zcnas.log: run_summary.json is a link that points to itself")
def _(d: Path) -> tuple[str, str]:
    run = _finished_run(d)
    (run / "run_summary.json").unlink()
    (run / "run_summary.json").symlink_to(run / "run_summary.json")
    r = sh(["-m", "zcnas.log", str(run), "--tracking-uri", f"sqlite:///{d / 'm.db'}"], d, timeout=90)
    return expect_error(r, "run_summary.json"), f"rc={r.returncode}: {r.last[:120]}"

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    rows = []
    for c in CASES:
        if only and c.name not in only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"hp-{c.name}-") as tmp:
            t0 = time.perf_counter()
            try:
                outcome, note = c.fn(Path(tmp))
            except Exception as err:  # noqa: BLE001 - a broken probe case is reported, not fatal
                outcome, note = "PROBE ERROR", f"{type(err).__name__}: {err}"[:160]
            rows.append((c.part, c.name, outcome, time.perf_counter() - t0, note.replace("|", "/")))
        print(f"{c.part:>7} {c.name:<30} {outcome:<14} {rows[-1][3]:6.1f} s  {note}", flush=True)
    bad = {k: sum(r[2] == k for r in rows) for k in ("SECURITY", "USER FILE ALTERED", "SILENT WRONG", "TRACEBACK",
                                                      "HANG", "UNCLEAR ERROR", "PROBE ERROR")}
    lines = ["| part | case | outcome | s | note |", "|---|---|---|---|---|"]
    lines += [f"| {p} | {n} | {o} | {s:.0f} | {note} |" for p, n, o, s, note in rows]
    summary = (f"{len(rows)} cases: " + ", ".join(f"{sum(r[2] == k for r in rows)} {k}" for k in
               ("clear error", "correct", "warning")) + "; " + ", ".join(f"{v} {k}" for k, v in bad.items()))
    lines += ["", summary]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    sys.exit(1 if any(bad.values()) else 0)


if __name__ == "__main__":
    main()
