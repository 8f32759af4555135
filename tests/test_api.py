"""The Python API (``zcnas.score``, ``list_proxies``, ``network``, ``images``) on a timm model: the same
numbers as ``python -m zcnas.run`` and as independent computations; and, marked slow, the wheel
installed in a fresh virtualenv, run from outside the repository."""

from __future__ import annotations

import copy as copy_module
import math
import os
import subprocess
import sys
import venv
from pathlib import Path

import pandas as pd
import pytest
import torch

import zcnas
from zcnas.proxies._registry import _REGISTRY
from zcnas.spaces import NB201Space

from .conftest import ROOT

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|"
PROXIES = ["lswag", "nwot", "synflow", "jacov", "params"]  # the split passes, the full pass, a copy, none


def test_score_on_a_timm_model_equals_the_run_pipeline(tmp_path):
    """``zcnas.run`` on timm's test_resnet (seed 0, 16 CIFAR-10 images) vs the API on the same network."""
    proc = subprocess.run(
        [sys.executable, "-m", "zcnas.run", "space=timm", "space.models=[test_resnet]", "task=cifar10", "n_archs=1",
         "batch_size=16", f"proxy=[{','.join(PROXIES)}]", "tracking=none", "cache.path=null",
         f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = pd.read_csv(tmp_path / "run" / "scores.csv").iloc[0]
    assert row["arch"] == "test_resnet"
    net = zcnas.network("timm", "test_resnet", num_classes=10, seed=0)
    x, y = zcnas.images(16, seed=0)
    got = zcnas.score(net, x, y, proxies=PROXIES)
    assert list(got) == PROXIES and all(math.isfinite(v) for v in got.values()), got
    assert got == {p: float(row[p]) for p in PROXIES}  # bit-identical to the pipeline's scores.csv
    assert got["params"] == sum(p.numel() for p in net.parameters()) / 1e6


def test_score_against_independent_numbers_and_leaves_the_model_alone():
    import timm

    torch.manual_seed(0)
    net = timm.create_model("test_resnet", num_classes=10).eval()
    x, y = zcnas.images(12, seed=1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    got = zcnas.score(net, x, y, proxies={"nwot": {}, "lswag": {"hi": 6}, "params": None})
    assert got["lswag"] != zcnas.score(net, x, y, proxies=["lswag"])["lswag"]  # the window parameter reached it
    assert all(torch.equal(before[n], v) for n, v in net.state_dict().items()) and not net.training
    patterns = []  # NASWOT by hand: K = Σ_layers c cᵀ + (1−c)(1−c)ᵀ over train-mode ReLU patterns
    copy = copy_module.deepcopy(net).train()
    for m in copy.modules():
        if isinstance(m, torch.nn.ReLU):
            m.register_forward_hook(lambda _m, _i, out: patterns.append((out > 0).flatten(1).double()))
    with torch.no_grad():
        copy(x)
    k = sum(c @ c.T + (1 - c) @ (1 - c).T for c in patterns)
    assert len(patterns) > 3 and got["nwot"] == pytest.approx(float(torch.linalg.slogdet(k)[1]), rel=1e-9)


def test_list_proxies_network_and_errors():
    assert zcnas.list_proxies() == sorted(_REGISTRY) and {"lswag", "swap", "zico", "nwot"} <= set(zcnas.list_proxies())
    a, b = (zcnas.network("nb201", CELL, seed=3) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert sum(p.numel() for p in a.parameters()) == NB201Space().param_count(NB201Space.decode(CELL), 10)
    small = zcnas.network("nb201", CELL, num_classes=100, C=4, N=1)
    assert small.classifier.out_features == 100 and sum(p.numel() for p in small.parameters()) < 20_000
    with pytest.raises(KeyError, match="unknown space 'nb301'; valid: nb201, autoformer, timm"):
        zcnas.network("nb301", CELL)
    with pytest.raises(KeyError, match="unknown proxy 'lsawg'; valid: aznas_expressivity"):
        zcnas.score(a, *zcnas.images(4), proxies=["lsawg"])


def _offline_venv(where: Path) -> Path:
    """A fresh virtualenv that sees this interpreter's installed packages (torch, timm, hydra ...) except
    zcnas itself, so installing the wheel needs no network."""
    venv.create(where, with_pip=False)  # pip and setuptools come from the linked packages too
    py = where / "bin" / "python"
    site = Path(subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    farm = where / "deps"
    farm.mkdir()
    ours = Path(torch.__file__).resolve().parent.parent
    skip = ("zcnas", "__editable__")
    for entry in ours.iterdir():
        if not entry.name.startswith(skip):
            (farm / entry.name).symlink_to(entry)
    (site / "deps.pth").write_text(f"{farm}\n")
    return py


@pytest.mark.slow
def test_wheel_installs_and_runs_from_outside_the_repository(tmp_path):
    """`pip wheel --no-deps . && pip install <wheel>` in a fresh virtualenv, then the README commands
    from a directory outside the repository: configs come from the installed package."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT),
                    "-w", str(dist)], check=True, timeout=600, cwd=tmp_path)
    (wheel,) = dist.glob("zcnas-*.whl")
    py = _offline_venv(tmp_path / "venv")
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "OMP_NUM_THREADS": "1"}
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", str(wheel)], check=True, timeout=600, env=env)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.check_output([py, "-c", "import zcnas; print(zcnas.__file__)"], cwd=work, env=env, text=True)
    assert where.startswith(str(tmp_path / "venv")), where
    proc = subprocess.run([tmp_path / "venv" / "bin" / "zcnas-run", "n_archs=2", "proxy=params", "tracking=none",
                           "hydra.run.dir=out"], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    scores = pd.read_csv(work / "out" / "scores.csv")
    space = NB201Space()
    assert list(scores.columns) == ["arch", "params", "cifar10"] and len(scores) == 2
    for arch, params in zip(scores["arch"], scores["params"], strict=True):
        assert params == space.param_count(space.decode(arch), 10) / 1e6
    api = subprocess.run([py, "-c", "import zcnas, timm, torch; m = timm.create_model('resnet18', num_classes=10); "
                          "x = torch.randn(8, 3, 32, 32); y = torch.arange(8) % 10; "
                          "print(zcnas.score(m, x, y, proxies=['lswag', 'nwot']))"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert api.returncode == 0, api.stderr[-2000:]
    out = eval(api.stdout.strip().splitlines()[-1], {"nan": math.nan})  # noqa: S307 - our own printed dict
    assert set(out) == {"lswag", "nwot"} and all(math.isfinite(v) and v > 0 for v in out.values())


def test_every_command_has_a_console_script():
    """Each ``python -m zcnas.<cmd>`` (a module with a ``__main__`` block) is also ``zcnas-<cmd>`` on the PATH."""
    import tomllib

    from .conftest import ROOT

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    commands = {p.stem for p in (ROOT / "zcnas").glob("*.py") if 'if __name__ == "__main__"' in p.read_text()}
    assert scripts == {f"zcnas-{c}": f"zcnas.{c}:main" for c in commands}
