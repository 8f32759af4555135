"""PiT space (Auto-Prox's definition), its ground-truth loader and L-SWAG's layers on it.

``tests/data/gt_pit_example.json`` is test data: 8 PiT-Ti archs with a made-up ``fake_acc``
column (one null) and ``params_m``, their closed-form #params in millions (100 classes) -- no PiT
accuracies ship with zcnas."""

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

from zcnas.data.benchmarks import load_pit
from zcnas.probe import Probe
from zcnas.proxies import score
from zcnas.spaces import PiTArch, PiTSpace
from zcnas.spaces.pit import VARIANTS

EXAMPLE = Path(__file__).parent / "data" / "gt_pit_example.json"
# lliai/Auto-Prox-AAAI24 random_search_model.py:pit_configs, the lists its PiT sampler draws from
AUTOPROX_DEPTHS = [[1, 6, 6], [1, 8, 4], [2, 4, 6], [2, 6, 4], [2, 6, 6], [2, 8, 2], [2, 8, 4], [3, 4, 6], [3, 6, 4], [3, 8, 2]]
AUTOPROX_HEADS = [[2, 2, 2], [2, 2, 4], [2, 2, 8], [2, 4, 4], [2, 4, 8], [2, 8, 8], [4, 4, 4], [4, 4, 8], [4, 8, 8], [8, 8, 8]]


def autoprox_pit_params(cfg: dict, num_classes: int, img: int = 224, patch: int = 16, stride: int = 8) -> int:
    """#params of Auto-Prox's ``PiT(arch_config=cfg)`` (``pycls/models/auto/pit_subnet.py``) from its
    layer shapes, written out independently: widths c_s = base_dim * num_heads[s]; pos_embed
    (1, c0, E, E), E = floor((img - patch) / stride + 1); patch_embed.conv Conv2d(3, c0, patch) + bias;
    cls_token (1, 1, c0); per block (``common.TransformerLayer``, qkv_bias=True) 2 LayerNorms,
    Linear(c, 3c), Linear(c, c), Linear(c, int(c r)), Linear(int(c r), c); conv_head_pooling:
    Conv2d(c_s, c_s+1, 3, groups=c_s) + bias and Linear(c_s, c_s+1); norm LayerNorm(c_L); head."""
    c = [cfg["base_dim"] * h for h in cfg["num_heads"]]
    e = (img - patch) // stride + 1
    shapes = [(1, c[0], e, e), (c[0], 3, patch, patch), (c[0],), (1, 1, c[0])]
    for s, depth in enumerate(cfg["depth"]):
        h = int(c[s] * cfg["mlp_ratio"])
        shapes += [(c[s],), (c[s],), (3 * c[s], c[s]), (3 * c[s],), (c[s], c[s]), (c[s],), (c[s],), (c[s],),
                   (h, c[s]), (h,), (c[s], h), (c[s],)] * depth
        if s + 1 < len(c):
            shapes += [(c[s + 1], 1, 3, 3), (c[s + 1],), (c[s + 1], c[s]), (c[s + 1],)]
    shapes += [(c[-1],), (c[-1],), (num_classes, c[-1]), (num_classes,)]
    return sum(int(np.prod(s)) for s in shapes)


def test_choice_sets_are_auto_proxs():
    """The config's per-stage sets with the two constraints give exactly the sampler's 10 + 10 triples."""
    c = VARIANTS["tiny"]
    assert (c.base_dim, c.mlp_ratio, c.heads) == ((16, 24, 32, 40), (2, 4, 6, 8), (2, 4, 8))
    assert [list(d) for d in c.depth_triples()] == AUTOPROX_DEPTHS
    assert [list(h) for h in c.head_triples()] == AUTOPROX_HEADS
    assert len(PiTSpace()) == 4 * 4 * 10 * 10


def test_params_built_closed_form_and_auto_prox_shapes_agree():
    space = PiTSpace()
    archs = space.sample(60, np.random.default_rng(0))
    archs += [PiTArch(b, 8.0, (3, 8, 2), (8, 8, 8)) for b in (16, 40)]  # extremes
    for arch in archs:
        cfg = {"base_dim": arch.base_dim, "mlp_ratio": arch.mlp_ratio, "depth": list(arch.depth),
               "num_heads": list(arch.heads)}
        for classes in (100, 4):
            with torch.device("meta"):
                built = sum(p.numel() for p in space.build(arch, classes).parameters())
            assert built == space.param_count(arch, classes) == autoprox_pit_params(cfg, classes), arch
    # Auto-Prox's search keeps 4-22 M nets; the space spans 0.3 M (base 16, heads 2,2,2) to ~39 M
    sizes = [space.param_count(a, 100) / 1e6 for a in archs]
    assert 0.2 < min(sizes) and max(sizes) < 40


def autoprox_pit_forward(net: nn.Module, x: torch.Tensor, arch: PiTArch) -> torch.Tensor:
    """Auto-Prox's ``PiT.forward`` (eval, no drop path) re-written from its source with the built
    network's weights: conv embedding + pos embedding, per stage [cls; tokens] through the blocks,
    conv_head_pooling (grouped conv stride 2 on the map, Linear on the token), norm, head on cls."""
    def ln(t, m):
        return F.layer_norm(t, t.shape[-1:], m.weight, m.bias, eps=1e-6)

    def block(t, blk, h):
        n, length, d = t.shape
        q, k, v = F.linear(ln(t, blk.norm1), blk.attn.qkv.weight, blk.attn.qkv.bias).view(
            n, length, 3, h, -1).permute(2, 0, 3, 1, 4)
        a = F.softmax(q @ k.transpose(-1, -2) * (d // h) ** -0.5, dim=-1)
        t = t + F.linear((a @ v).transpose(1, 2).reshape(n, length, d), blk.attn.proj.weight, blk.attn.proj.bias)
        return t + F.linear(F.gelu(F.linear(ln(t, blk.norm2), blk.mlp.fc1.weight, blk.mlp.fc1.bias)),
                            blk.mlp.fc2.weight, blk.mlp.fc2.bias)

    m = F.conv2d(x, net.patch_embed.weight, net.patch_embed.bias, stride=8) + net.pos_embed
    cls = net.cls_token.expand(len(x), -1, -1)
    for s in range(3):
        c, hh, ww = m.shape[1:]
        t = torch.cat([cls, m.flatten(2).transpose(1, 2)], 1)
        for blk in net.stages[s]:
            t = block(t, blk, arch.heads[s])
        cls, m = t[:, :1], t[:, 1:].transpose(1, 2).reshape(len(x), c, hh, ww)
        if s < 2:
            pool = net.pools[s]
            m = F.conv2d(m, pool.conv.weight, pool.conv.bias, stride=2, padding=1, groups=c)
            cls = F.linear(cls, pool.fc.weight, pool.fc.bias)
    return F.linear(ln(cls, net.norm)[:, 0], net.head.weight, net.head.bias)


def test_pit_computes_auto_prox_forward():
    arch = PiTArch(24, 4.0, (1, 6, 6), (2, 4, 8))
    torch.manual_seed(0)
    net = PiTSpace().build(arch, 100).eval()
    assert net.pos_embed.shape == (1, 48, 27, 27) and net.pools[1].conv.weight.shape == (192, 1, 3, 3)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(net(x), autoprox_pit_forward(net, x, arch), atol=1e-5)


def test_layers_and_activations_on_pit():
    """Λ's layers: conv embedding, 4 Linear per block, pooling conv + fc between stages, head; Ψ's: one GELU per block."""
    space = PiTSpace("test", img_size=32, patch=8, stride=4)
    arch = PiTArch(8, 2.0, (2, 1, 1), (1, 1, 2))
    torch.manual_seed(0)
    net = space.build(arch, 10)
    x, y = torch.randn(6, 3, 32, 32), torch.randint(0, 10, (6,))
    probe = Probe(net, x, y)
    names = [n for n, _ in probe.layers]
    assert names[0] == "patch_embed" and names[-1] == "head" and len(names) == 2 + 4 * 4 + 2 * 2
    assert names[9:11] == ["pools.0.conv", "pools.0.fc"] and names[15:17] == ["pools.1.conv", "pools.1.fc"]
    # tokens 1 + 7x7, then 1 + 4x4, then 1 + 2x2; MLP hidden 2 x width
    assert [tuple(a.shape) for a in probe.acts] == [(6, 50 * 16), (6, 50 * 16), (6, 17 * 16), (6, 5 * 32)]
    shared = Probe(net, x, y, share_passes=True)
    assert all(torch.equal(a, b) for a, b in zip(shared.acts, probe.acts, strict=True))
    full = score(shared, {"lswag": {}})["lswag"]
    skipped = score(Probe(net, x, y), {"lswag": {"skip": ["patch_embed", "head", "pools.*"]}})["lswag"]
    assert np.isfinite(full) and np.isfinite(skipped) and full != skipped


def test_sampling_mutation_crossover_stay_valid():
    space, rng = PiTSpace(), np.random.default_rng(0)
    archs = space.sample(200, rng)
    assert len(set(archs)) == 200 and archs == space.sample(200, np.random.default_rng(0))
    assert {a.depth for a in archs} == {tuple(d) for d in AUTOPROX_DEPTHS}
    assert {a.heads for a in archs} == {tuple(h) for h in AUTOPROX_HEADS}
    children = [space.mutate(a, rng) for a in archs]
    assert all(space.decode(space.encode(c)) == c for c in children)
    assert sum(c != a for c, a in zip(children, archs, strict=True)) > 120  # ~3 in 4 change
    for a, b in zip(archs[::2], archs[1::2], strict=True):
        child = space.crossover(a, b, rng)
        assert space.decode(space.encode(child)) == child
        assert child.base_dim in (a.base_dim, b.base_dim)
        assert all(d in (x, z) for d, x, z in zip(child.depth, a.depth, b.depth, strict=True))
    with pytest.raises(ValueError, match="n_archs=1601 exceeds the 1600 archs of PiT-tiny"):
        space.sample(1601, rng)


@pytest.mark.parametrize("text,msg", [
    ("base=48|mlp=2|depth=2,4,6|heads=2,4,8", r"base_dim 48 not in \(16, 24, 32, 40\)"),
    ("base=40|mlp=3|depth=2,4,6|heads=2,4,8", r"mlp_ratio 3 not in \('2', '4', '6', '8'\)"),
    ("base=40|mlp=2|depth=2,5,6|heads=2,4,8", r"depth\[1\] 5 not in \(4, 6, 8\)"),
    ("base=40|mlp=2|depth=2,4|heads=2,4", "2 depths / 2 head counts, expected 3 stages"),
    ("base=40|mlp=2|depth=1,4,2|heads=2,4,8", r"total depth 7 outside \[12, 14\]; valid depths: \[\(1, 6, 6\)"),
    ("base=40|mlp=2|depth=2,4,6|heads=8,4,2", r"heads \[8, 4, 2\] decrease over the stages .* valid: \[\(2, 2, 2\)"),
    ("embed=192|depth=12|mlp=3.5|heads=3", r"malformed PiT arch string .* \(an AutoFormer arch: use space=autoformer\)"),
])
def test_bad_arch_strings(text, msg):
    with pytest.raises(ValueError, match=msg) as err:
        PiTSpace().decode(text)
    assert "\n" not in str(err.value)


def test_loader_reads_the_example_and_rejects_bad_files(tmp_path):
    bench = load_pit(str(EXAMPLE))
    assert bench.targets == ["fake_acc", "params_m"] and len(bench.table) == 8
    assert bench.table["fake_acc"].isna().sum() == 1  # null = NaN
    space = PiTSpace()
    assert [round(space.param_count(space.decode(a), 100) / 1e6, 6) for a in bench.table.index] == list(bench.table.params_m)
    with pytest.raises(ValueError, match="benchmark=pit needs benchmark.path=<your PiT ground truth .json>"):
        load_pit()
    af = tmp_path / "af.json"
    af.write_text(json.dumps([{"arch": {"hidden_dim": 192, "depth": 12, "mlp_ratio": [4.0] * 12,
                                        "num_heads": [3] * 12}, "acc": 1.0}]))
    with pytest.raises(ValueError) as err:
        load_pit(str(af))
    assert re.search(r"record 0: a autoformer arch \{hidden_dim, .*\}, but space=pit reads \{base_dim, mlp_ratio, "
                     r"depth: \[one per stage\], num_heads: \[one per stage\]\}; use space=autoformer benchmark=autoformer",
                     str(err.value)) and "\n" not in str(err.value)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"arch": {"base_dim": 40, "mlp_ratio": 2, "depth": [2, 4, 6], "num_heads": [2, 4, 16]},
                                "acc": 1.0}]))
    with pytest.raises(ValueError, match=r"record 0: PiT-tiny arch .*heads\[2\] 16 not in \(2, 4, 8\)"):
        load_pit(str(bad))
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps([{"arch": {"base_dim": 40, "depth": [2, 4, 6], "num_heads": [2, 4, 8]}, "acc": 1.0}]))
    with pytest.raises(ValueError, match="record 0: bad arch .*'mlp_ratio'.*expected \\{base_dim, mlp_ratio"):
        load_pit(str(missing))


def test_pit_command_on_a_user_file(tmp_path):
    """`python -m zcnas.run space=pit benchmark=pit benchmark.path=<file> proxy=[lswag,params]`: the
    params proxy ranks the archs exactly as the file's params_m column (right arch on the right row)."""
    cmd = [sys.executable, "-m", "zcnas.run", "space=pit", "benchmark=pit", f"benchmark.path={EXAMPLE}",
           "proxy=[lswag,params]", "n_archs=5", "batch_size=4", "tracking=none", f"hydra.run.dir={tmp_path}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert len(scores) == 5 and scores["lswag"].gt(0).all()
    assert np.allclose(scores["params"], scores["params_m"], atol=1e-6)
    recs = {(r["proxy"], r["target"]): r for r in json.loads((tmp_path / "correlations.json").read_text())}
    assert recs[("params", "params_m")]["spearman"] == pytest.approx(1.0)
    assert set(recs) == {(p, t) for p in ("lswag", "params") for t in ("fake_acc", "params_m")}
