"""A run directory is untrusted data (issue: security items): zcnas.export and zcnas.build never import or
call what a file names, never write outside their target; zcnas.log never follows a link out of the run
dir nor logs where the file alone says; a multirun never leaves a password in multirun.yaml; space
arguments no network can have are one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zcnas.export import main as export_main
from zcnas.spaces import NB201Space, space_from_config

NB201 = {"_target_": "zcnas.spaces.NB201Space", "C": 2, "N": 1}
ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def cli(cwd: Path, module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def selection(tmp_path: Path, space: object, **extra: object) -> Path:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "selected_arch.json").write_text(json.dumps({"arch": ARCH, "space": space, "num_classes": 10, **extra}))
    return run


@pytest.mark.parametrize("space,why", [
    ({"_target_": "subprocess.Popen", "args": ["touch", "MARK"]}, "not one of zcnas's spaces"),
    ({"_target_": "this.Nothing"}, "not one of zcnas's spaces"),
    ({"_target_": "zcnas.spaces.NB201Space", "name": "x/../../../ESCAPED"}, "leave it out"),
    ({"_target_": "zcnas.spaces.NB201Space", "C": 0}, "space.C=0 must be an integer"),
    ({"_target_": "zcnas.spaces.NB201Space", "N": -1}, "space.N=-1 must be an integer"),
    ({"_target_": "zcnas.spaces.NB201Space", "C": "4; rm"}, "must be an integer"),
    ({"_target_": "zcnas.spaces.NB201Space", "evil": 1}, "has no argument 'evil'"),
    ("zcnas.spaces.NB201Space", "not a mapping"),
])
def test_export_runs_no_code_named_by_the_run_dir(tmp_path, space, why, capsys):
    run = selection(tmp_path, space)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit, match=f"zcnas.export: error: .*{why}"):
        export_main([str(run)])
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no MARK, no ESCAPED, no export/ written
    assert "this" not in sys.modules or not hasattr(sys.modules["this"], "Nothing")


def test_export_space_from_config_yaml_is_checked_too(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "selected_arch.json").write_text(json.dumps({"arch": ARCH}))
    (run / "config.yaml").write_text("space:\n  _target_: subprocess.Popen\n  args: [touch, MARK]\ntask:\n  num_classes: 10\n")
    with pytest.raises(SystemExit, match="not one of zcnas's spaces"):
        export_main([str(run)])
    (run / "config.yaml").write_text("space: !!python/object/apply:os.system [touch MARK]\n")
    with pytest.raises(SystemExit, match="not a readable YAML config"):
        export_main([str(run)])
    assert not (tmp_path / "MARK").exists() and not Path("MARK").exists()


def test_export_writes_only_inside_its_folder(tmp_path):
    run = selection(tmp_path, NB201)
    outside = tmp_path / "outside"
    outside.mkdir()
    (run / "export").symlink_to(outside, target_is_directory=True)  # a planted link in a shared run dir
    with pytest.raises(SystemExit, match="is a link"):
        export_main([str(run)])
    (run / "export").unlink()
    (run / "export").mkdir()
    (run / "export" / "zcnas_nb201.py").symlink_to(outside / "victim.py")
    with pytest.raises(SystemExit, match="is a link"):
        export_main([str(run)])
    assert list(outside.iterdir()) == []
    (run / "export" / "zcnas_nb201.py").unlink()
    export_main([str(run)])
    assert json.loads((run / "export" / "zcnas_nb201.json").read_text())["space_args"] == {"C": 2, "N": 1}


def test_space_from_config_builds_only_zcnas_spaces():
    assert space_from_config(NB201) == NB201Space(C=2, N=1)
    assert space_from_config({"_target_": "zcnas.spaces.nb201.NB201Space"}) == NB201Space()
    with pytest.raises(ValueError, match="not one of zcnas's spaces"):
        space_from_config({"_target_": "zcnas.spaces.nb201.torch"})


def test_build_arch_from_is_data_too(tmp_path):
    run = selection(tmp_path, {"_target_": "subprocess.Popen", "args": ["touch", "MARK"]})
    proc = cli(tmp_path, "zcnas.build", f"arch_from={run}", "recipe=nb201", "recipe.epochs=1")
    assert proc.returncode != 0 and "not one of zcnas's spaces" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr and not (tmp_path / "MARK").exists()


@pytest.mark.parametrize("override,why", [("space.C=0", "space.C=0 must be an integer"),
                                          ("space.N=-1", "space.N=-1 must be an integer")])
def test_run_refuses_space_arguments_no_network_has(tmp_path, override, why):
    proc = cli(tmp_path, "zcnas.run", override, "n_archs=2", "proxy=params", "tracking=none", "cache.path=null",
               "hydra.run.dir=run")
    assert proc.returncode != 0 and why in proc.stderr.strip().splitlines()[-1] and "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "scores.csv").exists()


@pytest.fixture
def finished_run(tmp_path) -> Path:
    proc = cli(tmp_path, "zcnas.run", "space.C=2", "space.N=1", "n_archs=3", "proxy=params", "tracking=none",
               "cache.path=null", "hydra.run.dir=run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return tmp_path / "run"


def test_log_never_uploads_a_linked_file(tmp_path, finished_run):
    private = tmp_path / "private.txt"
    private.write_text("PRIVATE-KEY-123")
    (finished_run / "scores.csv").unlink()
    (finished_run / "scores.csv").symlink_to(private)
    proc = cli(tmp_path, "zcnas.log", "run", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink() and p != private and b"PRIVATE-KEY-123" in p.read_bytes()]
    assert not stored and "not uploaded" in proc.stderr
    (finished_run / "config.yaml").rename(tmp_path / "cfg.yaml")
    (finished_run / "config.yaml").symlink_to(tmp_path / "cfg.yaml")
    proc = cli(tmp_path, "zcnas.log", "run", "--tracking-uri", f"sqlite:///{tmp_path / 'm2.db'}")
    assert proc.returncode == 1 and "config.yaml is a link" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "m2.db").exists()


def test_log_never_writes_where_only_the_run_dir_says(tmp_path, finished_run):
    """A tracking.uri planted in config.yaml (someone's own SQLite file) is not used unasked: one-line error,
    their database byte-identical; the user's --tracking-uri or $MLFLOW_TRACKING_URI is."""
    import sqlite3

    victim = tmp_path / "users.db"
    with sqlite3.connect(victim) as db:
        db.execute("CREATE TABLE people (name TEXT)")
    before = victim.read_bytes()
    cfg = (finished_run / "config.yaml").read_text()
    (finished_run / "config.yaml").write_text(cfg.replace("tracking:\n", f"tracking:\n  uri: sqlite:///{victim}\n", 1))
    proc = cli(tmp_path, "zcnas.log", "run", env={"MLFLOW_TRACKING_URI": ""})
    assert proc.returncode == 1 and "never used unasked" in proc.stderr.strip().splitlines()[-1]
    assert victim.read_bytes() == before and not (tmp_path / "mlruns.db").exists()
    proc = cli(tmp_path, "zcnas.log", "run", env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mine.db'}"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert victim.read_bytes() == before and (tmp_path / "mine.db").is_file()


def test_failed_multirun_leaves_no_password_in_multirun_yaml(tmp_path):
    secret = "S3cretPW9"
    proc = cli(tmp_path, "zcnas.run", "-m", "space.C=2", "space.N=1", "n_archs=2", "proxy=params", "tracking=none",
               f"cache.url=postgresql://bob:{secret}@127.0.0.1:1/db", "seed=0,1", "hydra.sweep.dir=sw")
    assert proc.returncode != 0 and (tmp_path / "sw" / "multirun.yaml").is_file()
    leaks = [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert not leaks and secret not in proc.stdout + proc.stderr


@pytest.mark.parametrize("schema", ["CREATE TABLE people (name TEXT)",
                                    "CREATE TABLE scores (who TEXT, what REAL)"])
def test_a_users_sqlite_file_as_cache_path_is_left_byte_identical(tmp_path, schema):
    import sqlite3

    db = tmp_path / "mine.db"
    with sqlite3.connect(db) as conn:
        conn.execute(schema)
    before = db.read_bytes()
    proc = cli(tmp_path, "zcnas.run", "space.C=2", "space.N=1", "n_archs=2", "proxy=params", "tracking=none",
               f"cache.path={db}", "hydra.run.dir=run")
    assert proc.returncode == 1 and "zcnas did not create" in proc.stderr.strip().splitlines()[-1]
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.glob("mine.db*")) == ["mine.db"]


def test_unknown_settings_are_refused_with_the_closest_one(tmp_path):
    for override, why in (("+n_arch=2", "n_arch: zcnas.run has no such setting (it would be ignored); did you mean n_archs?"),
                          ("+probe.batchseed=1", "did you mean probe.batch_seed?")):
        proc = cli(tmp_path, "zcnas.run", override, "tracking=none", "hydra.run.dir=run")
        assert proc.returncode == 1 and why in proc.stderr.strip().splitlines()[-1]


def test_a_run_directory_is_held_by_one_run_and_stale_picks_are_removed(tmp_path):
    from zcnas.results import take_lock

    run = tmp_path / "run"
    assert take_lock(run / ".zcnas_run.lock")  # another live run (this process) holds the directory
    args = ("space.C=2", "space.N=1", "n_archs=2", "proxy=params", "tracking=none", "cache.path=null", "hydra.run.dir=run")
    proc = cli(tmp_path, "zcnas.run", *args)
    assert proc.returncode == 1 and "is in use by another zcnas run" in proc.stderr.strip().splitlines()[-1]
    assert not (run / "scores.csv").exists()
    (run / ".zcnas_run.lock").unlink()
    (run / "selected_arch.json").write_text(json.dumps({"arch": ARCH, "space": NB201, "num_classes": 10}))
    proc = cli(tmp_path, "zcnas.run", *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (run / "selected_arch.json").exists() and not (run / ".zcnas_run.lock").exists()


def test_search_errors_name_the_setting(tmp_path):
    proc = cli(tmp_path, "zcnas.run", "search=evolution", "search.population=0", "search.fitness=params", "space.C=2",
               "space.N=1", "proxy=params", "tracking=none", "hydra.run.dir=run")
    assert proc.returncode == 1 and "search.population=0 must be an integer >= 1" in proc.stderr.strip().splitlines()[-1]
    hist = tmp_path / "hist.json"
    hist.write_text(json.dumps({"rows": [{"arch": ARCH, "nwot": 1.0}], "generation": 1, "rng_state": None}))
    proc = cli(tmp_path, "zcnas.run", "search=evolution", f"search.resume_from={hist}", "search.fitness=params",
               "space.C=2", "space.N=1", "proxy=params", "tracking=none", "hydra.run.dir=run2")
    assert proc.returncode == 1 and "lack the scores of ['params']" in proc.stderr.strip().splitlines()[-1]


def test_a_locked_cache_is_a_one_line_error_naming_the_file(tmp_path):
    import sqlite3

    from zcnas.cache import ScoreCache

    cache = ScoreCache(tmp_path / "c.db", {"seed": 0})
    cache.put("a", {"params": {}}, {"params": 1.0})
    cache._db.execute("PRAGMA busy_timeout=100")  # the run's 60 s wait, shortened for the test
    other = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(OSError, match=r"cache.path=.*c.db: database is locked \(another process holds it locked, "
                                      r"or the disk is full\); the archs scored so far are in this run's scores.csv"):
        cache.put("b", {"params": {}}, {"params": 2.0})
    other.execute("ROLLBACK")
    other.close()
    assert cache.get("a", {"params": {}}) == {"params": 1.0}


def test_a_corrupt_shard_cache_at_merge_is_a_one_line_error_and_nothing_is_deleted(tmp_path):
    from zcnas.cache import ScoreCache, merge_shard_caches

    good = ScoreCache(tmp_path / "c.db.shard0of2", {"seed": 0})
    good.put("a", {"params": {}}, {"params": 1.0})
    good.close()
    (tmp_path / "c.db.shard1of2").write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    with pytest.raises(ValueError, match=r"shard cache .*c.db.shard1of2 cannot be read .*move c.db.shard1of2 aside"):
        merge_shard_caches(tmp_path / "c.db", 2)
    assert (tmp_path / "c.db.shard0of2").exists() and (tmp_path / "c.db.shard1of2").exists()


@pytest.mark.parametrize("override,why", [("recipe.epochs=-1", "recipe.epochs=-1 must be an integer >= 1"),
                                          ("recipe.lr=0", "recipe.lr=0 trains nothing"),
                                          ("recipe.batch_size=0", "recipe.batch_size=0 must be an integer >= 1")])
def test_recipes_no_training_can_run_are_refused(override, why):
    from zcnas.build import Recipe

    key, value = override.removeprefix("recipe.").split("=")
    with pytest.raises(ValueError, match=why):
        Recipe(**{key: float(value) if "." in value or key == "lr" else int(value)})


@pytest.mark.parametrize("value", ["runs/ü", "a\nb"])
def test_run_dirs_hydra_cannot_lex_are_one_line_errors_that_show_the_quoting(tmp_path, value):
    proc = cli(tmp_path, "zcnas.run", f"hydra.run.dir={value}", "tracking=none")
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1 and last.startswith("zcnas.run: error: hydra.run.dir=") and "must be quoted" in last
    assert len(proc.stderr.strip().splitlines()) == 1
    ok = cli(tmp_path, "zcnas.run", "hydra.run.dir='runs/ü'", "space.C=2", "space.N=1", "n_archs=2", "proxy=params",
             "tracking=none", "cache.path=null")
    assert ok.returncode == 0 and (tmp_path / "runs" / "ü" / "scores.csv").is_file()


def test_a_rerun_picks_up_what_an_interrupted_run_wrote_to_scores_csv(tmp_path):
    """The cache failed mid-run (here: the run killed before its cache writes, simulated by emptying the
    cache): the rerun into the same directory reads the archs already in scores.csv instead of rescoring them;
    a scores.csv of another setting in that directory is never read as scores."""
    args = ("space.C=2", "space.N=1", "n_archs=4", "proxy=[params,nwot]", "tracking=none", "cache.path=c.db",
            "hydra.run.dir=run")
    first = cli(tmp_path, "zcnas.run", *args)
    assert first.returncode == 0, first.stderr[-2000:]
    scores = (tmp_path / "run" / "scores.csv").read_text()
    torn = scores.splitlines(keepends=True)
    (tmp_path / "run" / "scores.csv").write_text("".join(torn[:4]) + torn[4][:10])  # 3 rows + a torn one
    (tmp_path / "c.db").unlink()
    again = cli(tmp_path, "zcnas.run", *args)
    assert again.returncode == 0 and "picked up 3 archs" in again.stdout + again.stderr
    summary = json.loads((tmp_path / "run" / "run_summary.json").read_text())
    assert (summary["n_cached"], summary["n_computed"]) == (3, 1)
    assert (tmp_path / "run" / "scores.csv").read_text() == scores
    (tmp_path / "c.db").unlink()
    other = cli(tmp_path, "zcnas.run", *args[:-3], "seed=1", "cache.path=c.db", "hydra.run.dir=run")
    assert other.returncode == 0 and "picked up" not in other.stdout + other.stderr
    assert json.loads((tmp_path / "run" / "run_summary.json").read_text())["n_cached"] == 0


@pytest.mark.parametrize("override,why", [("proxy=lswg", "unknown proxy 'lswg' (did you mean lswag?"),
                                          ("proxy=[lswag,nwt]", "unknown proxy 'nwt' (did you mean nwot?"),
                                          ("space=nb2011", "unknown space 'nb2011' (did you mean nb201?")])
def test_config_group_typos_are_one_line_with_the_closest_option(tmp_path, override, why):
    proc = cli(tmp_path, "zcnas.run", override, "tracking=none")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1 and why in proc.stderr


def test_a_yaml_alias_bomb_in_a_run_dir_is_refused_at_once(tmp_path, finished_run):
    """Nested aliases (9^10 nodes when walked) hung zcnas.log and zcnas.merge; now one line, in seconds."""
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    with (finished_run / "config.yaml").open("a") as f:
        f.write("\n".join(lines) + "\n")
    proc = cli(tmp_path, "zcnas.log", "run", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}")
    assert proc.returncode == 1 and "YAML anchors/aliases are not read" in proc.stderr.strip().splitlines()[-1]


def test_a_cache_written_before_the_numeric_policy_reads_back(tmp_path):
    """tests/data/cache_before_issue30.db was written by zcnas before probe.tf32 and the saturation guard
    existed (commit 26e6fc8: 3 NB201 cells, C=2, N=1, seed 0; drawn before samples were nested, so listed here
    with archs_from); on CPU every score reads back unchanged."""
    import shutil

    from .conftest import ROOT

    shutil.copy(ROOT / "tests" / "data" / "cache_before_issue30.db", tmp_path / "c.db")
    before = (ROOT / "tests" / "data" / "cache_before_issue30_scores.csv").read_text()
    (tmp_path / "archs.txt").write_text("".join(line.split(",")[0] + "\n" for line in before.splitlines()[1:]))
    proc = cli(tmp_path, "zcnas.run", "space.C=2", "space.N=1", "archs_from=archs.txt", "proxy=[params,nwot,lswag,swap]",
               "tracking=none", "cache.path=c.db", "hydra.run.dir=run", "threads=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "run_summary.json").read_text())
    assert (summary["n_cached"], summary["numeric"]) == (3, {"tf32": None})
    assert (tmp_path / "run" / "scores.csv").read_text() == before


@pytest.mark.parametrize("cached", [True, False])
def test_scores_from_before_riders_read_back_and_recompute_bit_for_bit(tmp_path, cached):
    """tests/data/cache_before_riders.db was written before MeCo's and AZ-NAS's artifacts rode on the shared pass
    (commit 9a81c31: 3 NB201 cells, C=2, N=1, seed 0, one of them dead): read from that cache every score comes
    back (none computed), and computed anew on the shared pass scores.csv is the same file, byte for byte."""
    import shutil

    from .conftest import ROOT

    if cached:
        shutil.copy(ROOT / "tests" / "data" / "cache_before_riders.db", tmp_path / "c.db")
    before = (ROOT / "tests" / "data" / "cache_before_riders_scores.csv").read_text()
    (tmp_path / "archs.txt").write_text("".join(line.split(",")[0] + "\n" for line in before.splitlines()[1:]))
    proc = cli(tmp_path, "zcnas.run", "space.C=2", "space.N=1", "archs_from=archs.txt", "tracking=none", "threads=1",
               "proxy=[nwot,jacov,meco,meco_opt,aznas_expressivity,aznas_progressivity,aznas_trainability]",
               "cache.path=c.db", "hydra.run.dir=run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "run_summary.json").read_text())["n_cached"] == (3 if cached else 0)
    assert (tmp_path / "run" / "scores.csv").read_text() == before


def test_summarize_reads_run_dirs_as_data_too(tmp_path, finished_run):
    with (finished_run / "config.yaml").open("a") as f:
        f.write('a0: &a0 ["x"]\na1: [*a0, *a0]\n')
    proc = cli(tmp_path, "zcnas.summarize", "run")
    assert proc.returncode == 1 and "YAML anchors/aliases are not read" in proc.stderr.strip().splitlines()[-1]


def test_every_file_under_tests_data_is_tracked_by_git():
    """A file a test reads but .gitignore hides passes here and fails on CI's clean checkout."""
    from .conftest import ROOT

    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    data = ROOT / "tests" / "data"
    tracked = subprocess.run(["git", "ls-files", "tests/data"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert sorted(str(p.relative_to(ROOT)) for p in data.rglob("*") if p.is_file()) == sorted(tracked)
    import hashlib
    import re

    sums = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|", (data / "README.md").read_text(), re.M))
    assert sums == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.iterdir() if p.name != "README.md"}
