"""docker/Dockerfile: no engine on CI, so check what can be checked — hadolint clean, the install
steps identical to the Makefile's, non-root, the contract entry point, a .dockerignore that keeps
venvs, logs and databases out of the build context."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"


def pip_steps(text: str) -> list[str]:
    """The requirement files / editable package each `pip install` line installs, in order."""
    steps = []
    for line in text.splitlines():
        if "pip install" in line:
            steps += re.findall(r"-r (requirements/\S+\.txt)", line) + (["-e ."] if "--no-deps -e ." in line else [])
    return steps


def test_install_steps_match_the_makefile():
    make = pip_steps((ROOT / "Makefile").read_text())
    docker = pip_steps(DOCKERFILE.read_text())
    assert make == ["requirements/torch.txt", "requirements/base.txt", "requirements/dev.txt", "-e ."]
    assert docker == [s for s in make if s != "requirements/dev.txt"]  # the image leaves out dev tools


def test_runtime_is_non_root_with_the_contract_entrypoint():
    text = DOCKERFILE.read_text()
    runtime = text[text.rindex("\nFROM "):]
    assert re.search(r"^USER 1000:1000$", runtime, re.M)
    assert 'ENTRYPOINT ["python", "-m", "zcnas.run"]' in runtime
    assert "ZCNAS_DEVICE=${DEVICE}" in runtime  # conf/config.yaml reads it: the CUDA image defaults to cuda
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "logs", "*.db", "mlruns*", ".git"} <= set(ignored)


def test_device_follows_the_image_env(monkeypatch):
    from hydra import compose, initialize_config_dir

    monkeypatch.setenv("ZCNAS_DEVICE", "cuda")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        assert compose(config_name="config").device == "cuda"
        assert compose(config_name="config", overrides=["device=cpu"]).device == "cpu"


def test_hadolint_clean():
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(exe).is_file():
        pytest.skip("hadolint not installed (requirements/dev.txt)")
    proc = subprocess.run([exe, str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
