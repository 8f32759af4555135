"""python -m zcnas.export: a standalone module that builds the found network with zcnas NOT importable
(same #params, same output with the same weights), timm registration, and a found network trained for
one epoch on the shipped images."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch

from zcnas.build import Recipe, split, train
from zcnas.data import Task
from zcnas.export import export, main
from zcnas.run import score_archs
from zcnas.spaces import DartsSpace, NB201Space

from .test_prune import compose_run

CHECK = """
import json, sys
sys.modules["zcnas"] = None  # zcnas is NOT importable here
sys.path.insert(0, sys.argv[1])
import torch, timm
mod = __import__(sys.argv[2])
net = mod.build_model().eval()
net.load_state_dict(torch.load(sys.argv[3]))
x = torch.load(sys.argv[4])
with torch.no_grad():
    torch.save(net(x), sys.argv[5])
t = timm.create_model(sys.argv[2], arch=mod.CONFIG["arch"])
print(json.dumps({"params": sum(p.numel() for p in net.parameters()),
                  "timm_params": sum(p.numel() for p in t.parameters()), "config": mod.CONFIG}))
"""


def standalone_matches(tmp_path, run_path, space, arch, num_classes=10):
    """Export, then build in a subprocess without zcnas; compare #params and outputs to zcnas's net."""
    py, js = export(run_path, tmp_path / "out")
    assert not re.search(r"^\s*(from zcnas[. ]|import zcnas\b)", py.read_text(), re.M)
    torch.manual_seed(0)
    ref = space.build(arch, num_classes).eval()
    torch.save(ref.state_dict(), tmp_path / "sd.pt")
    x = torch.randn(2, 3, 32, 32)
    torch.save(x, tmp_path / "x.pt")
    res = subprocess.run([sys.executable, "-c", CHECK, str(py.parent), py.stem, str(tmp_path / "sd.pt"),
                          str(tmp_path / "x.pt"), str(tmp_path / "y.pt")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    n = sum(p.numel() for p in ref.parameters())
    assert got["params"] == got["timm_params"] == n == json.loads(js.read_text())["params"]
    with torch.no_grad():
        assert torch.allclose(torch.load(tmp_path / "y.pt"), ref(x), atol=1e-6)
    return got


def test_export_nb201_run_dir(tmp_path):
    run = tmp_path / "run"
    score_archs(compose_run("search=prune", "search.fitness=params", "proxy=[params]"), run)
    sel = json.loads((run / "selected_arch.json").read_text())

    sp = NB201Space(C=2, N=1)
    got = standalone_matches(tmp_path, run, sp, sp.decode(sel["arch"]))
    assert got["config"]["arch"] == sel["arch"] and got["config"]["space_args"] == {"C": 2, "N": 1}


DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
            "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), "
            "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def test_export_darts_selected_arch_json(tmp_path, capsys):
    sp = DartsSpace(C=4, layers=3)
    arch = sp.decode(DARTS_V2)
    sel = tmp_path / "selected_arch.json"
    sel.write_text(json.dumps({"arch": sp.encode(arch), "space": {"_target_": "zcnas.spaces.DartsSpace", "C": 4,
                                                                    "layers": 3}, "num_classes": 10}))
    standalone_matches(tmp_path, sel, sp, arch)
    with pytest.raises(SystemExit, match="zcnas.export: error: .*nope.*does not exist"):
        main([str(tmp_path / "nope")])
    sel.write_text(json.dumps({"arch": "[[(0, 9)]]", "space": {"_target_": "zcnas.spaces.DartsSpace"}, "num_classes": 10}))
    with pytest.raises(SystemExit, match="zcnas.export: error: malformed DARTS arch"):
        main([str(sel)])


def test_found_network_trains_one_epoch_on_shipped_images(tmp_path):
    """The exported DARTS-V2 network (small), one epoch of SGD on the shipped CIFAR-10 images."""
    sp = DartsSpace(C=4, layers=3)
    sel = tmp_path / "selected_arch.json"
    sel.write_text(json.dumps({"arch": DARTS_V2, "space": {"_target_": "zcnas.spaces.DartsSpace", "C": 4, "layers": 3},
                               "num_classes": 10}))
    py, _ = export(sel, tmp_path / "out")
    sys.path.insert(0, str(py.parent))
    try:
        mod = __import__(py.stem)
    finally:
        sys.path.remove(str(py.parent))
    torch.manual_seed(0)
    net = mod.build_model()
    before = [p.detach().clone() for p in net.parameters()]
    task = Task()
    data, info = split(task, 0.2, 0)
    res = train(net, Recipe(name="darts", batch_size=64, epochs=1, lr=0.025, weight_decay=3e-4, amp=False), task,
                data, seed=0, device=torch.device("cpu"))
    assert res["status"] == "ok" and res["epochs"] == 1 and 0 < res["train_loss"] < 10
    assert 0 <= res["accuracy"] <= 100 and info["n_train"] > 100
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert sum(p.numel() for p in net.parameters()) == sp.param_count(sp.decode(DARTS_V2))
