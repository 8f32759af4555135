"""AutoFormer space, its ground truth, L-SWAG hooks on ViTs, and timm models by name."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.data import asset_path, load_autoformer
from zcnas.probe import Probe
from zcnas.proxies import score
from zcnas.run import score_archs
from zcnas.spaces import AutoFormerSpace, TimmSpace
from zcnas.spaces.autoformer import VARIANTS, AutoFormerArch


def autoprox_param_count(cfg: dict, num_classes: int, img_size: int = 224, patch: int = 16) -> int:
    """#params of Auto-Prox's ``AutoFormerSub(arch_config=cfg)`` (lliai/Auto-Prox-AAAI24
    ``pycls/models/auto/autoformer_subnet.py``, ``common.py``), summed from its layers' shapes,
    written out here independently of zcnas: PatchEmbedding.projection Conv2d(3, D, p, p) + bias;
    pos_embed (1, num_patches + 1, D); cls_token (1, 1, D); per TransformerLayer: norm1, norm2
    LayerNorm(D), attn.qkv_transform Linear(D, 3D, bias=True), attn.projection Linear(D, D),
    mlp.fc1 Linear(D, int(D * r)), mlp.fc2 Linear(int(D * r), D); norm LayerNorm(D); head Linear(D, C)."""
    d = cfg["hidden_dim"]
    shapes = [(d, 3, patch, patch), (d,), (1, (img_size // patch) ** 2 + 1, d), (1, 1, d)]
    for r in cfg["mlp_ratio"]:
        h = int(d * r)
        shapes += [(d,), (d,), (3 * d, d), (3 * d,), (d, d), (d,), (d,), (d,), (h, d), (h,), (d, h), (d,)]
    shapes += [(d,), (d,), (num_classes, d), (num_classes,)]
    return sum(int(np.prod(s)) for s in shapes)


def test_exact_params_on_every_shipped_arch():
    """#params of the built Auto-Prox subnet == the closed form == Auto-Prox's layer shapes, for all
    100 archs of the shipped ground truth and the class counts of its columns (CIFAR-100, Flowers-102,
    Chaoyang 4); the Cream flavour's built count equals its own closed form."""
    records = json.loads(asset_path("gt_autoformer.json").read_text())
    exact, cream = AutoFormerSpace("tiny"), AutoFormerSpace("tiny", flavour="cream")
    assert exact.flavour == "autoprox" and len(records) == 100
    for i, rec in enumerate(records):
        a = rec["arch"]
        arch = AutoFormerArch(a["hidden_dim"], a["depth"], tuple(a["mlp_ratio"]), tuple(a["num_heads"]))
        with torch.device("meta"):  # meta tensors: shapes only, no init
            built = sum(p.numel() for p in exact.build(arch, 100).parameters())
            if i < 10:
                assert sum(p.numel() for p in cream.build(arch, 100).parameters()) == cream.param_count(arch, 100)
        assert built == exact.param_count(arch, 100) == autoprox_param_count(a, 100)
        assert all(exact.param_count(arch, c) == autoprox_param_count(a, c) for c in (102, 4, 1000))
    # head width embed/heads: with heads (3 or 4) the exact count does not depend on the head counts
    a = AutoFormerArch(216, 12, (4.0,) * 12, (3,) * 12)
    assert exact.param_count(a, 100) == exact.param_count(AutoFormerArch(216, 12, (4.0,) * 12, (4,) * 12), 100)
    assert cream.param_count(a, 100) != cream.param_count(AutoFormerArch(216, 12, (4.0,) * 12, (4,) * 12), 100)


def autoprox_forward(net: nn.Module, x: torch.Tensor, heads: tuple[int, ...]) -> torch.Tensor:
    """Auto-Prox's ``AutoFormerSub.forward`` (eval mode, no drop path) re-written from its source with
    the built network's weights: ``MultiheadAttention`` reshapes qkv to (N, L, 3, heads, -1), scales by
    (D / heads)^-0.5; LayerNorm eps 1e-6; the head reads the mean of the patch tokens."""
    def ln(t, m):
        return F.layer_norm(t, t.shape[-1:], m.weight, m.bias, eps=1e-6)

    t = F.conv2d(x, net.patch_embed.proj.weight, net.patch_embed.proj.bias, stride=16).flatten(2).transpose(1, 2)
    t = torch.cat([net.cls_token.repeat(len(x), 1, 1), t], 1) + net.pos_embed
    for blk, h in zip(net.blocks, heads, strict=True):
        n, length, d = t.shape
        q, k, v = F.linear(ln(t, blk.norm1), blk.attn.qkv.weight, blk.attn.qkv.bias).view(
            n, length, 3, h, -1).permute(2, 0, 3, 1, 4)
        a = F.softmax(q @ k.transpose(-1, -2) * (d // h) ** -0.5, dim=-1)
        t = t + F.linear((a @ v).transpose(1, 2).reshape(n, length, d), blk.attn.proj.weight, blk.attn.proj.bias)
        m = F.gelu(F.linear(ln(t, blk.norm2), blk.mlp.fc1.weight, blk.mlp.fc1.bias))
        t = t + F.linear(m, blk.mlp.fc2.weight, blk.mlp.fc2.bias)
    return F.linear(ln(t, net.norm)[:, 1:].mean(1), net.head.weight, net.head.bias)


def test_exact_flavour_computes_autoprox_forward():
    space = AutoFormerSpace("tiny")
    arch = AutoFormerArch(216, 12, (3.5, 4.0) * 6, (3, 4) * 6)
    torch.manual_seed(0)
    net = space.build(arch, 100).eval()
    blk = net.blocks[0]
    assert blk.attn.qkv.weight.shape == (3 * 216, 216) and blk.attn.qkv.bias is not None
    assert blk.attn.proj.weight.shape == (216, 216) and blk.attn.head_dim == 216 // 3 == 72
    assert net.blocks[1].attn.head_dim == 216 // 4 and blk.mlp.fc1.out_features == 756
    assert all(m.eps == 1e-6 for m in net.modules() if isinstance(m, nn.LayerNorm))
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(net(x), autoprox_forward(net, x, arch.heads), atol=1e-5)
        cream = AutoFormerSpace("tiny", flavour="cream").build(arch, 100)
        assert cream.blocks[0].attn.qkv.weight.shape == (3 * 64 * 3, 216)  # Cream: heads of width 64
        assert all(m.eps == 1e-5 for m in cream.modules() if isinstance(m, nn.LayerNorm))


def test_flavour_errors():
    with pytest.raises(ValueError, match=r"unknown space.flavour='deit'; valid: \['autoprox', 'cream'\]"):
        AutoFormerSpace("tiny", flavour="deit")
    with pytest.raises(ValueError, match="embed 320 with 6 heads; Auto-Prox defines tiny only: use space.variant=tiny "
                                         "or space.flavour=cream"):
        AutoFormerSpace("small")
    with pytest.raises(ValueError, match=r"malformed AutoFormer arch string .* \(a PiT arch: use space=pit\)"):
        AutoFormerSpace("tiny").decode("base=40|mlp=2|depth=2,4,6|heads=2,4,8")


@pytest.mark.parametrize("overrides,message", [
    (["space.flavour=deit"], r"unknown space.flavour='deit'; valid: \['autoprox', 'cream'\]"),
    (["space.variant=small"], "space.flavour=autoprox needs embed divisible by heads"),
    (["benchmark=pit"], "benchmark=pit needs benchmark.path="),
    (["benchmark=pit", "n_archs=2", f"benchmark.path={Path(__file__).parent / 'data' / 'gt_pit_example.json'}"],
     r"malformed AutoFormer arch string 'base=.*' \(a PiT arch: use space=pit\)"),
])
def test_bad_space_config_is_one_clear_error(tmp_path, overrides, message):
    from .test_run import cfg_with

    with pytest.raises(ValueError, match=message) as err:
        score_archs(cfg_with("space=autoformer", "proxy=params", "tracking=none", *overrides), tmp_path)
    assert "\n" not in str(err.value)


def test_default_flavour_and_windows_per_flavour():
    from omegaconf import OmegaConf

    from .test_run import cfg_with

    exact, cream = cfg_with("space=autoformer"), cfg_with("space=autoformer", "space.flavour=cream")
    assert exact.space.flavour == "autoprox" and exact.benchmark._target_ == "zcnas.data.load_autoformer"
    lsw = [OmegaConf.to_container(c.proxy, resolve=True)["lswag"] for c in (exact, cream)]
    assert [(p["lo"], p["hi"]) for p in lsw] == [(exact.window.autoprox.lo, exact.window.autoprox.hi), (0, 2)]


@pytest.mark.parametrize("flavour", ["autoprox", "cream"])
@pytest.mark.parametrize("variant", ["tiny", "small", "base"])
def test_param_formula_equals_built_model(variant, flavour):
    if flavour == "autoprox" and variant != "tiny":
        return  # Auto-Prox defines Tiny only (test_flavour_errors)
    space = AutoFormerSpace(variant, flavour=flavour)
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
    # exact (Auto-Prox) tiny params, 100-class head: 5.10 M (embed 192, depth 12, ratio 3.5) to 9.98 M
    # (240, 14, 4.0); the shipped 100 span 5.28-9.75 M (Cream's definition: 5.53-9.60 M)
    counts = [space.param_count(a, 100) for a in archs]
    assert 5_100_196 <= min(counts) and max(counts) <= 9_977_140
    shipped = [space.param_count(space.decode(a), 100) for a in load_autoformer().table.index]
    assert (min(shipped), max(shipped)) == (5284996, 9746260)


def test_mutation_and_crossover_stay_in_space():
    space, rng = AutoFormerSpace("small", flavour="cream"), np.random.default_rng(0)
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


def test_lswag_skip_drops_layers_from_lambda():
    """lswag.skip: name globs leave layers out of Λ (full window: Λ loses exactly their terms; Ψ unchanged)."""
    from zcnas.proxies.gradstats import lswag_terms

    space = AutoFormerSpace("test", img_size=32, patch=8)
    torch.manual_seed(0)
    probe = Probe(space.build(AutoFormerArch(24, 2, (2.0, 4.0), (1, 2)), 10), torch.randn(6, 3, 32, 32),
                  torch.randint(0, 10, (6,)))
    lam, psi = lswag_terms(probe, 0, 10)
    lam_skip, psi_skip = lswag_terms(probe, 0, 10, skip=["patch_embed*", "head"])
    names = [n for n, _ in probe.layers]
    def inv_sigma(g: torch.Tensor) -> float:  # log Σ_w 1/σ_w, σ the std (ddof 0) of |g| over the 2 sub-batches
        sigma = g.double().abs().std(0, unbiased=False)
        return float(torch.log((1 / sigma[sigma > 0]).sum()))

    ends = [inv_sigma(probe.grads(2)[names.index(n)]) for n in ("patch_embed.proj", "head")]
    assert lam_skip == pytest.approx(lam - sum(ends), rel=1e-9) and psi_skip == psi
    assert score(probe, {"lswag": {"skip": ["patch_embed*", "head"]}})["lswag"] == pytest.approx(lam_skip * psi)


def test_pit_file_given_to_autoformer_names_both_layouts(tmp_path):
    pit = tmp_path / "pit.json"
    pit.write_text(json.dumps([{"arch": {"base_dim": 40, "mlp_ratio": 2, "depth": [2, 4, 6], "num_heads": [2, 4, 8]},
                                "acc": 70.0}]))
    with pytest.raises(ValueError) as err:
        load_autoformer(str(pit))
    assert "\n" not in str(err.value) and re.search(
        r"record 0: a pit arch \{base_dim, mlp_ratio, depth: \[one per stage\], num_heads: \[one per stage\]\}, "
        r"but space=autoformer reads \{hidden_dim, depth, mlp_ratio: \[one per layer\], num_heads: \[one per layer\]\}; "
        r"use space=pit benchmark=pit", str(err.value))


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


def test_image_study_tables_are_reproduced_from_the_committed_scores():
    """experiments/autoformer_lswag/images.py (#27): the committed ρ tables follow from the 12 committed score
    files, and the README's verdict holds in them: the sign of L-SWAG − #params per column is the same under
    every image source, and no source moves L-SWAG's ρ by more than 0.07."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "experiments" / "autoformer_lswag" / "images.py"
    spec = importlib.util.spec_from_file_location("autoformer_images", path)
    images = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(images)
    rho, wide = images.tables([0, 1, 2])
    assert len(rho) == 4 * 3 * 4 * 7  # sources x seeds x proxies x columns
    pd.testing.assert_frame_equal(wide.rename_axis(columns=None), pd.read_csv(images.OUT / "summary.csv"),
                                  check_dtype=False)
    by = wide.set_index(["column", "proxy"])
    sources = list(images.SOURCES)
    for column in wide["column"].unique():
        gap = by.loc[(column, "lswag"), sources] - by.loc[(column, "params"), sources]
        assert (np.sign(gap) == np.sign(gap.iloc[0])).all(), column
    assert by.xs("lswag", level="proxy")["max_move"].max() <= 0.07
