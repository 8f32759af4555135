"""Security: no pickle/eval of data anywhere in zcnas, torch.load only with weights_only=True, the
MLflow UI bound to 127.0.0.1, and no secrets in logged params."""

from __future__ import annotations

import re

from zcnas.tracking import redact

from .conftest import ROOT

SOURCES = sorted((ROOT / "zcnas").rglob("*.py"))


def code_lines():
    for path in SOURCES:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if not code.strip().startswith(('"', "'")):
                yield f"{path.relative_to(ROOT)}:{i}", code


def test_no_pickle_or_eval_of_data():
    bad = [(where, code) for where, code in code_lines()
           if re.search(r"\bimport pickle\b|\bpickle\.|(?<![.\w])eval\(|\bexec\(|yaml\.load\(|allow_pickle=True", code)]
    assert not bad, bad
    loads = [(where, code) for where, code in code_lines() if "torch.load(" in code]
    assert all("weights_only=True" in code for _, code in loads), loads


def test_ui_is_local_only():
    ui = (ROOT / "Makefile").read_text().split("\nui:")[1].split("\n\n")[0]
    assert "--host 127.0.0.1" in ui and "0.0.0.0" not in ui


def test_secrets_are_masked_in_logged_params():
    params = {"tracking.uri": "https://alice:s3cr3t@mlflow.example.org", "tracking.token": "abc",
              "cloud.api_key": "xyz", "n_archs": 100, "task.root": "/data/cifar"}
    out = redact(params)
    assert out == {"tracking.uri": "https://***@mlflow.example.org", "tracking.token": "***",
                   "cloud.api_key": "***", "n_archs": 100, "task.root": "/data/cifar"}


def test_a_submitit_sweep_refuses_a_password_it_would_pickle(tmp_path):
    """submitit pickles each job's config into <sweep>/.submitit: a password there is refused before any
    job is submitted, with the environment variables that carry it instead."""
    import subprocess
    import sys

    secret = "hunter2pw"
    cmd = [sys.executable, "-m", "zcnas.run", "-m", "hydra/launcher=submitit_local", "n_archs=2", "proxy=params",
           "tracking=none", f"cache.url=postgresql://u:{secret}@127.0.0.1:1/db", "hydra.sweep.dir=sweep"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1 and "PGPASSWORD" in err[0] and "submitit" in err[0], proc.stderr
    assert secret not in proc.stdout + proc.stderr
    assert not (tmp_path / "sweep" / ".submitit").exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
