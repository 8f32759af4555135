"""The Python API (``zcnas.score``, ``list_proxies``, ``network``, ``images``) on a timm model: the same
numbers as ``python -m zcnas.run`` and as independent computations; and, marked slow, the wheel
installed in a fresh virtualenv, run from outside the repository."""

from __future__ import annotations

import copy as copy_module
import math
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
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
         "batch_size=16", f"proxy=[{','.join(PROXIES)}]", "tracking=none", "cache.path=null", "threads=1",
         f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = pd.read_csv(tmp_path / "run" / "scores.csv").iloc[0]
    assert row["arch"] == "test_resnet"
    net = zcnas.network("timm", "test_resnet", num_classes=10, seed=0)
    x, y = zcnas.images(16, seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the run's threads=1: the same reductions, whatever thread count an earlier test left
    try:
        got = zcnas.score(net, x, y, proxies=PROXIES)
    finally:
        torch.set_num_threads(threads)
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
    assert list(zcnas.space_names()) == ["autoformer", "darts", "nb101", "nb201", "pit", "timm"]  # each space's own name
    nb101 = zcnas.network("nb101", zcnas.space_names()["nb101"]().encode(
        zcnas.space_names()["nb101"]().sample(1, np.random.default_rng(0))[0]), seed=0)
    assert nb101(zcnas.images(2)[0]).shape == (2, 10)
    with pytest.raises(KeyError, match="unknown space 'nb301'; valid: autoformer, darts, nb101, nb201, pit, timm"):
        zcnas.network("nb301", CELL)
    with pytest.raises(KeyError, match="unknown proxy 'lsawg'; valid: aznas_expressivity"):
        zcnas.score(a, *zcnas.images(4), proxies=["lsawg"])


def _fresh_venv(where: Path) -> Path:
    """A new virtualenv with pip and nothing else but torch and torchvision (and what torch requires),
    linked from this interpreter's site-packages (the pinned pair: a download would be a multi-GB CUDA build);
    everything the wheel declares comes from the package index when the wheel is installed."""
    from importlib import metadata

    venv.create(where, with_pip=True)
    py = where / "bin" / "python"
    site = Path(subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    names, todo = set(), ["torch", "torchvision"]
    while todo:  # torch's requirement closure (markers of this platform; no extras), and torchvision alone
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in names:
            continue
        names.add(key)
        dist = metadata.distribution(name)
        if name == "torchvision":
            continue
        for req in dist.requires or []:
            spec, _, marker = req.partition(";")
            if "extra" in marker or not _marker_holds(marker):
                continue
            todo.append(spec.split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("!")[0].split("~")[0]
                        .strip())
    farm = where / "linked"
    farm.mkdir()
    ours = Path(torch.__file__).resolve().parent.parent
    for name in names:
        for top in {f.parts[0] for f in metadata.distribution(name).files or [] if f.parts[0] != ".."}:
            if (ours / top).exists() and not (farm / top).exists():
                (farm / top).symlink_to(ours / top)
    (site / "linked.pth").write_text(f"{farm}\n")
    return py


def _marker_holds(marker: str) -> bool:
    from packaging.markers import Marker

    return not marker.strip() or Marker(marker).evaluate()


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_installs_what_it_imports_and_runs_the_docs(tmp_path):
    """`pip wheel --no-deps .`, then `pip install 'zcnas-*.whl[vit]'` into a fresh virtualenv (torch linked in,
    every declared dependency from the index): from a directory outside the repository the console script
    scores NB201 cells, summarize writes its CSV without pyarrow, MLflow (an extra, not installed) is one line
    naming the extra (a warning for the default run, an error when asked for), and docs/api.md's code blocks
    run as written."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT),
                    "-w", str(dist)], check=True, timeout=600, cwd=tmp_path)
    (wheel,) = dist.glob("zcnas-*.whl")
    py = _fresh_venv(tmp_path / "venv")
    env = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}, "OMP_NUM_THREADS": "1"}
    pip = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[vit]"],
                         capture_output=True, text=True, timeout=1200, env=env)
    assert pip.returncode == 0, pip.stderr[-3000:]
    listed = subprocess.check_output([py, "-m", "pip", "list", "--format=freeze"], env=env, text=True).lower()
    assert "scikit-learn==" in listed and "timm==" in listed and "mlflow" not in listed and "pyarrow" not in listed
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.check_output([py, "-c", "import zcnas; print(zcnas.__file__)"], cwd=work, env=env, text=True)
    assert where.startswith(str(tmp_path / "venv")), where
    bin_ = tmp_path / "venv" / "bin"

    def cmd(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], cwd=work, env=env, capture_output=True, text=True, timeout=600)

    proc = cmd(bin_ / "zcnas-run", "n_archs=3", "proxy=[params,nwot]", "tracking=none", "hydra.run.dir=out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    scores = pd.read_csv(work / "out" / "scores.csv")
    space = NB201Space()
    assert list(scores.columns) == ["arch", "params", "nwot", "cifar10"] and len(scores) == 3
    for arch, params in zip(scores["arch"], scores["params"], strict=True):
        assert params == space.param_count(space.decode(arch), 10) / 1e6
    proc = cmd(bin_ / "zcnas-summarize", "out")
    assert proc.returncode == 0 and (work / "out" / "summary.csv").is_file(), proc.stderr[-2000:]
    assert not (work / "out" / "summary.parquet").exists() and "Traceback" not in proc.stderr
    missing = "tracking=mlflow needs mlflow, which is not installed: pip install 'zcnas[tracking]'"
    proc = cmd(bin_ / "zcnas-run", "n_archs=2", "proxy=params")  # the default tracker, MLflow, is not installed:
    assert proc.returncode == 0 and missing in proc.stdout + proc.stderr and "not logged to" in proc.stdout  # said so
    proc = cmd(bin_ / "zcnas-run", "n_archs=2", "proxy=params", "tracking=mlflow")  # asked for: refused, one line
    assert proc.returncode == 1 and proc.stderr.strip() == f"zcnas.run: error: {missing}", proc.stderr[-2000:]
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), flags=re.S)
    assert len(blocks) >= 2
    for k, block in enumerate(blocks):  # as written, each zcnas.score(...) line's value printed
        lines = [f"print(repr({ln.split('  #')[0].strip()}))" if ln.startswith("zcnas.score(") else ln
                 for ln in block.splitlines()]
        (work / f"block{k}.py").write_text("\n".join(lines) + "\n")
        proc = cmd(py, f"block{k}.py")
        assert proc.returncode == 0, proc.stderr[-2000:]
        printed = [eval(ln, {"nan": math.nan}) for ln in proc.stdout.splitlines() if ln.startswith("{")]
        assert len(printed) == sum(ln.startswith("zcnas.score(") for ln in block.splitlines()) >= 1
        for out in printed:  # finite, positive L-SWAG and NWOT on a real CNN and a real ViT
            assert set(out) <= {"lswag", "nwot"} and all(math.isfinite(v) and v > 0 for v in out.values()), out
    proc = cmd(py, "-c", "import timm, zcnas; zcnas.score(timm.create_model('vit_tiny_patch16_224'), *zcnas.images(4))")
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
        "ValueError: inputs are 32x32 px but the model's patch embedding takes 224x224: "
        "use zcnas.images(n, resolution=224) or images of that size")


def test_every_command_has_a_console_script():
    """Each ``python -m zcnas.<cmd>`` (a module with a ``__main__`` block) is also ``zcnas-<cmd>`` on the PATH."""
    import tomllib

    from .conftest import ROOT

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    commands = {p.stem for p in (ROOT / "zcnas").glob("*.py") if 'if __name__ == "__main__"' in p.read_text()}
    assert scripts == {f"zcnas-{c}": f"zcnas.{c}:main" for c in commands}


def test_a_vit_fed_another_resolution_is_one_line_not_nan():
    """A timm ViT built for 64 px fed the 32 px batch: ``ValueError`` naming ``images(n, resolution=64)``;
    at 64 px the scores are finite."""
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    vit = VisionTransformer(img_size=64, patch_size=16, embed_dim=32, depth=1, num_heads=2, num_classes=10)
    with pytest.raises(ValueError, match=r"^inputs are 32x32 px but the model's patch embedding takes 64x64: "
                                         r"use zcnas.images\(n, resolution=64\)"):
        zcnas.score(vit, *zcnas.images(4), proxies=["nwot"])
    got = zcnas.score(vit, *zcnas.images(4, resolution=64), proxies=["nwot", "lswag"])
    assert all(math.isfinite(v) for v in got.values()), got
