"""AutoFormer space, its ground truth, L-SWAG hooks on ViTs, and timm models by name."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from zcnas.data import load_autoformer
from zcnas.probe import Probe
from zcnas.proxies import score
from zcnas.spaces import AutoFormerSpace, TimmSpace
from zcnas.spaces.autoformer import VARIANTS, AutoFormerArch


@pytest.mark.parametrize("variant", ["tiny", "small", "base"])
def test_param_formula_equals_built_model(variant):
    space = AutoFormerSpace(variant)
    for arch in space.sample(3, np.random.default_rng(0)):
        with torch.device("meta"):
            net = space.build(arch, 100)
        assert space.param_count(arch, 100) == sum(p.numel() for p in net.parameters())
        assert space.decode(space.encode(arch)) == arch


def test_choice_sets_and_sampling():
    assert VARIANTS["small"].embed == (320, 384, 448) and VARIANTS["base"].heads == (9, 10)
    space = AutoFormerSpace("tiny")
    archs = space.sample(200, np.random.default_rng(1))
    assert len(set(archs)) == 200 and archs == space.sample(200, np.random.default_rng(1))
    assert {a.depth for a in archs} == {12, 13, 14} and {a.embed for a in archs} == {192, 216, 240}
    assert {r for a in archs for r in a.mlp_ratio} == {3.5, 4.0}
    # tiny params with a 100-class head lie in 5.4-9.8 M (Auto-Prox quotes 5.5-9.6 M for its 100)
    counts = [space.param_count(a, 100) for a in archs]
    assert 5.3e6 < min(counts) and max(counts) < 9.8e6


def test_mutation_and_crossover_stay_in_space():
    space, rng = AutoFormerSpace("small"), np.random.default_rng(0)
    parents = space.sample(50, rng)
    for a in parents:
        child = space.mutate(a, rng)
        assert space.decode(space.encode(child)) == child
    same = [b for b in parents if b.depth == parents[0].depth and b != parents[0]]
    child = space.crossover(parents[0], same[0], rng)
    assert all(g in (x, y) for g, x, y in zip(child.heads, parents[0].heads, same[0].heads, strict=True))
    diff = next(b for b in parents if b.depth != parents[0].depth)
    with pytest.raises(ValueError, match="equal depth"):
        space.crossover(parents[0], diff, rng)


@pytest.mark.parametrize("text,msg", [
    ("embed=192|depth=12|mlp=3.5|heads=3", "1 mlp ratios / 1 head counts for depth 12"),
    ("embed=200|depth=12|mlp=" + ",".join(["4"] * 12) + "|heads=" + ",".join(["3"] * 12), "embed 200 not in"),
    ("embed=192;depth=12", "malformed AutoFormer arch string"),
])
def test_bad_arch_strings(text, msg):
    with pytest.raises(ValueError, match=msg) as err:
        AutoFormerSpace("tiny").decode(text)
    assert "\n" not in str(err.value)


def test_hooks_see_one_gelu_per_block_with_tokens():
    space = AutoFormerSpace("test", img_size=32, patch=8)
    arch = AutoFormerArch(24, 3, (2.0, 4.0, 2.0), (1, 2, 1))
    torch.manual_seed(0)
    net = space.build(arch, 10)
    x, y = torch.randn(6, 3, 32, 32), torch.randint(0, 10, (6,))
    probe = Probe(net, x, y)
    assert [tuple(a.shape) for a in probe.acts] == [(6, 17 * 48), (6, 17 * 96), (6, 17 * 48)]
    names = [n for n, _ in probe.layers]
    assert names[0] == "patch_embed.proj" and names[-1] == "head"
    assert names[1:5] == ["blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.0.mlp.fc1", "blocks.0.mlp.fc2"]
    assert len(names) == 2 + 4 * 3
    # LayerNorm is per-sample: patterns from the gradient sub-batch passes equal a full forward
    shared = Probe(net, x, y, share_passes=True)
    assert all(torch.equal(a, b) for a, b in zip(shared.acts, probe.acts, strict=True))
    out = score(shared, {n: {} for n in ["lswag", "zico", "swap", "nwot", "params", "flops"]})
    assert all(np.isfinite(v) for v in out.values()), out


def test_autoformer_ground_truth_and_bad_files(tmp_path):
    bench = load_autoformer()
    assert bench.table.shape == (100, 7) and "c100_base_acc" in bench.targets
    space = AutoFormerSpace("tiny")
    assert all(space.encode(space.decode(a)) == a for a in bench.table.index)
    # #params alone vs c100_base_acc: Spearman -0.47 (shared/data/README.md §6)
    params = [space.param_count(space.decode(a), 100) for a in bench.table.index]
    rho = pd.Series(params).corr(pd.Series(bench.table["c100_base_acc"].to_numpy()), method="spearman")
    assert rho == pytest.approx(-0.47, abs=0.01)
    own = tmp_path / "own.json"  # bring your own ViT ground truth: any numeric columns are targets
    own.write_text(json.dumps([{"arch": {"hidden_dim": 240, "depth": 12, "mlp_ratio": [4.0] * 12,
                                         "num_heads": [4] * 12}, "my_acc": 71.5, "note": "text is ignored"}]))
    mine = load_autoformer(str(own))
    assert mine.targets == ["my_acc"] and mine.table.iloc[0, 0] == 71.5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"arch": {"hidden_dim": 192, "depth": 12, "mlp_ratio": [4.0] * 11,
                                         "num_heads": [3] * 12}, "acc": 1.0}]))
    with pytest.raises(ValueError, match="record 0: .*11 mlp ratios / 12 head counts for depth 12"):
        load_autoformer(str(bad))
    none = tmp_path / "none.json"
    none.write_text(json.dumps([{"arch": {"hidden_dim": 192, "depth": 12, "mlp_ratio": [4.0] * 12,
                                          "num_heads": [3] * 12}, "note": "x"}]))
    with pytest.raises(ValueError, match="no numeric target column"):
        load_autoformer(str(none))


def test_timm_space_by_name():
    with pytest.raises(ValueError, match=r"unknown timm model 'resnet181'; close matches: \[.*'resnet18'"):
        TimmSpace(models=("resnet181",))
    space = TimmSpace(models=("resnet18", "vit_tiny_patch16_224"), img_size=None)
    torch.manual_seed(0)
    net = space.build("resnet18", 10)
    probe = Probe(net, torch.randn(4, 3, 64, 64), torch.randint(0, 10, (4,)))
    out = score(probe, {"params": {}, "swap": {}, "lswag": {}})
    assert out["params"] == pytest.approx(sum(p.numel() for p in net.parameters()) / 1e6)
    assert out["lswag"] > 0 and isinstance(net, nn.Module)


def test_headline_command_end_to_end(tmp_path):
    """`python -m zcnas.run proxy=lswag space=autoformer` on a few real subnets, small batch."""
    cmd = [sys.executable, "-m", "zcnas.run", "proxy=lswag", "space=autoformer", "n_archs=3", "batch_size=4",
           "tracking=none", f"hydra.run.dir={tmp_path}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "batch_size=4" in proc.stdout + proc.stderr
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert len(scores) == 3 and scores["lswag"].gt(0).all()
    assert set(load_autoformer().targets) <= set(scores.columns)
    recs = json.loads((tmp_path / "correlations.json").read_text())
    assert len(recs) == 7 and {r["target"] for r in recs} == set(load_autoformer().targets)
