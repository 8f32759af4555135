"""A real Slurm (marker ``slurm``; ``make slurm-up`` starts a one-node cluster): a 4-shard sweep
through the submitit Slurm launcher, merged at the end of the multirun, equals the local unsharded
run, with exact job states from Slurm accounting and one MLflow child run per shard."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slurm


def slurm_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not slurm_up(), reason="no Slurm here: `make slurm-up` (root, Debian) starts one")
def test_four_shards_on_slurm_equal_the_local_run(tmp_path):
    args = ["n_archs=12", "space.C=4", "space.N=1", "batch_size=8", "proxy=[lswag,nwot,params]"]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    sweep = subprocess.run(
        [sys.executable, "-m", "zcnas.run", "-m", "launcher=slurm", "hydra.launcher.partition=debug",
         "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=20",
         "shard.count=4", "shard.index=0,1,2,3", *args, "hydra.sweep.dir=sweep"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert sweep.returncode == 0, sweep.stdout[-3000:] + sweep.stderr[-3000:]
    local = subprocess.run([sys.executable, "-m", "zcnas.run", *args, "hydra.run.dir=local", "cache.path=local.db", "threads=1",
                            "tracking=none"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert local.returncode == 0, local.stderr[-3000:]
    merged = tmp_path / "sweep" / "merged"
    assert (merged / "scores.csv").read_bytes() == (tmp_path / "local" / "scores.csv").read_bytes()
    assert (json.loads((merged / "correlations.json").read_text())
            == json.loads((tmp_path / "local" / "correlations.json").read_text()))

    ids = sorted({p.name.split("_")[0] for p in (tmp_path / "sweep" / ".submitit").iterdir() if p.is_dir()})
    states = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(ids)],
                            capture_output=True, text=True, timeout=60).stdout.split()
    assert len(states) == 4 and all(s.endswith("|COMPLETED") for s in states), states

    import mlflow

    runs = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns.db").search_runs(["1"])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags and r.info.run_name.startswith("sweep: "))
    kids = [r.info.run_name for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(k.rsplit("-", 1)[1] for k in kids) == ["merged4", "shard0of4", "shard1of4", "shard2of4", "shard3of4"]


@pytest.mark.skipif(not slurm_up(), reason="no Slurm here: `make slurm-up` (root, Debian) starts one")
def test_preempted_job_is_requeued_and_resumes_from_the_cache(tmp_path):
    """USR2 (Slurm's pre-emption/time-limit warning) -> submitit checkpoints and requeues the job ->
    the requeued job reads the scores made before from the cache and ends like an uninterrupted run."""
    import time

    args = ["n_archs=40", "space.C=4", "space.N=1", "batch_size=8", "proxy=[lswag,nwot,params]",
            "tracking=none", "log_every=1"]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    sweep = subprocess.Popen(
        [sys.executable, "-m", "zcnas.run", "-m", "launcher=slurm", "hydra.launcher.partition=debug",
         "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", "seed=0", *args, "hydra.sweep.dir=sweep"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    csv, deadline = tmp_path / "sweep" / "0" / "scores.csv", time.time() + 300
    while time.time() < deadline and not (csv.is_file() and len(csv.read_text().splitlines()) > 8):
        time.sleep(0.2)
    (job,) = [p.name for p in (tmp_path / "sweep" / ".submitit").iterdir() if p.is_dir()]
    subprocess.run(["scancel", "--signal=USR2", job], check=True, timeout=30)
    while sweep.poll() is None and time.time() < deadline + 300:  # skip Slurm's 2-minute requeue hold
        subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], capture_output=True, timeout=30)
        time.sleep(2)
    assert sweep.wait(timeout=60) == 0
    summary = json.loads((tmp_path / "sweep" / "0" / "run_summary.json").read_text())
    assert summary["n_cached"] >= 8 and summary["n_cached"] + summary["n_computed"] == 40  # resumed, once each
    local = subprocess.run([sys.executable, "-m", "zcnas.run", "seed=0", *args, "threads=1", "cache.path=l.db",
                            "hydra.run.dir=local"], cwd=tmp_path, env=env, capture_output=True, timeout=900)
    assert local.returncode == 0
    assert csv.read_bytes() == (tmp_path / "local" / "scores.csv").read_bytes()


@pytest.mark.skipif(not slurm_up(), reason="no Slurm here: `make slurm-up` (root, Debian) starts one")
def test_build_shards_on_slurm_merge_to_the_local_build(tmp_path):
    """zcnas.build: 2 shards trained as a Slurm array, merged, equal the local unsharded build."""
    common = ["space.C=4", "space.N=1", "recipe.batch_size=64", "recipe.epochs=1", "n_archs=4", "threads=1"]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    run = subprocess.run([sys.executable, "-m", "zcnas.build", "-m", "launcher=slurm", "hydra.launcher.partition=debug",
                          "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", *common, "shard.count=2",
                          "shard.index=0,1", f"out={tmp_path}/b.jsonl", f"checkpoint_dir={tmp_path}/ck",
                          f"hydra.sweep.dir={tmp_path}/sweep"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    for args in (["shard.count=2", "merge=true", f"out={tmp_path}/b.jsonl"], [f"out={tmp_path}/local.jsonl"]):
        proc = subprocess.run([sys.executable, "-m", "zcnas.build", *common, *args, f"checkpoint_dir={tmp_path}/ck2",
                               f"hydra.run.dir={tmp_path}/run"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-2000:]

    def rows(name):
        out = [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]
        for r in out:
            r["meta"].pop("wall_s")
        return out

    assert rows("b.jsonl") == rows("local.jsonl") and len(rows("b.jsonl")) == 4
