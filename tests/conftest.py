"""Shared fixtures: tiny spaces, a fixed real-image batch, a repo-root path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from zcnas.data import Task
from zcnas.spaces import NB201Space

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tiny_nb201() -> NB201Space:
    """NB201 with C=4, N=1 (same topology rules, ~100x cheaper)."""
    return NB201Space(C=4, N=1)


@pytest.fixture
def batch16() -> tuple[torch.Tensor, torch.Tensor]:
    """16 real CIFAR-10 images (seed 0), normalised."""
    return Task().batch(16, 0)


@pytest.fixture(autouse=True)
def _run_in_tmp(tmp_path, monkeypatch):
    """Each test runs in its own directory: default outputs (score cache, mlruns.db) land there, and
    its own user config dir (calibrated windows), not yours."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZCNAS_CONFIG_DIR", str(tmp_path / "user_conf"))


@pytest.fixture
def one_thread():
    """torch on one intra-op thread for the test, as the OMP_NUM_THREADS=1 subprocesses it compares with: CPU conv
    kernels depend on the thread count, so a pre-activation near 0 can flip its ReLU bit (nwot moves at 1e-6)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
