"""MeCo, TE-NAS, AZ-NAS, DSS and reg-SWAP against independent computations (numpy / torch.func /
brute force) on small nets whose answers can be written out."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from zcnas.probe import Probe, block_modules
from zcnas.proxies import score
from zcnas.proxies.spectral import first_sample_features
from zcnas.spaces import AutoFormerSpace, NB201Space


def small_cnn() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU(),
                         nn.Conv2d(5, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 3))


def test_meco_matches_numpy_on_every_module_output():
    net, x, y = small_cnn(), torch.randn(6, 3, 5, 5), torch.zeros(6, dtype=torch.long)
    got = score(Probe(net, x, y), {"meco": {}, "meco_opt": {"channels": 2}})
    feats = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: feats.append(o[0].detach().numpy()))
             for m in net.modules()]
    net.train()
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    expected, expected_opt = 0.0, 0.0
    gen = torch.Generator().manual_seed(0)
    for f in feats:
        if f.ndim < 2 or f.reshape(f.shape[0], -1).shape[1] < 2:
            continue  # (C,) logits or pooled (C, 1): no correlation to take
        f = f.reshape(f.shape[0], -1).astype(np.float64)
        c = np.nan_to_num(np.corrcoef(f), nan=0.0, posinf=0.0, neginf=0.0)
        expected += np.linalg.eigvalsh(c).min()
        idx = torch.randperm(f.shape[0], generator=gen)[:2].numpy()
        c2 = np.nan_to_num(np.corrcoef(f[idx]), nan=0.0)
        expected_opt += np.linalg.eigvalsh(c2).min() * f.shape[0] / 2
    assert got["meco"] == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert got["meco_opt"] == pytest.approx(expected_opt, rel=1e-6, abs=1e-9)


def test_tenas_ntk_matches_torch_func_jacobian():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = torch.randn(5, 4), torch.zeros(5, dtype=torch.long)
    got = score(Probe(net, x, y), {"tenas_ntk": {"n_samples": 4}})["tenas_ntk"]
    names = [n for n, _ in net.named_parameters() if n.endswith("weight")]
    params = {n: p.detach() for n, p in net.named_parameters()}

    def f(ws):
        return torch.func.functional_call(net, {**params, **ws}, (x[:4],)).sum(1)  # 1ᵀ f(x_i) per sample

    jac = torch.func.jacrev(f)({n: params[n] for n in names})
    j = torch.cat([jac[n].reshape(4, -1) for n in names], 1).double().numpy()
    lam = np.linalg.eigvalsh(j @ j.T)
    assert got == pytest.approx(-lam[-1] / lam[0], rel=1e-6)


def test_tenas_linear_regions_by_brute_force_on_the_thin_nb201_copy():
    space = NB201Space(C=4, N=1)
    arch = space.decode("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    x, y = torch.randn(2, 3, 8, 8), torch.zeros(2, dtype=torch.long)
    got = score(Probe(space.build(arch), x, y, thin=lambda: space.thin(arch)), {"tenas_lr": {"n_samples": 500}})
    torch.manual_seed(0)
    thin = space.thin(arch).train()
    inputs = torch.randn((500, 3, 3, 3), generator=torch.Generator().manual_seed(0))
    rows = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: rows.append((o > 0).reshape(500, -1).numpy()))
             for m in thin.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        thin(inputs)
    for h in hooks:
        h.remove()
    patterns = np.concatenate(rows, 1)
    assert got["tenas_lr"] == len({tuple(r) for r in patterns})
    assert 1 < got["tenas_lr"] < 500  # the thin copy is what makes patterns collide
    dead = space.decode("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    cut = score(Probe(space.build(dead), x, y, thin=lambda: space.thin(dead)), {"tenas_lr": {"n_samples": 500}})
    assert cut["tenas_lr"] < got["tenas_lr"]


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.fc = nn.Linear(c_in, c_out)

    def forward(self, x):
        return torch.relu(self.fc(x))


def test_aznas_terms_match_numpy_on_a_chain_of_blocks():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 6), nn.Sequential(Block(6, 6), Block(6, 4), Block(4, 4)), nn.Linear(4, 3))
    x, y = torch.randn(40, 5), torch.zeros(40, dtype=torch.long)
    got = score(Probe(net, x, y), {"aznas_expressivity": {}, "aznas_progressivity": {}, "aznas_trainability": {}})
    assert block_modules(net) == list(net[1])

    def entropy(f):
        f = f - f.mean(0)
        s = np.clip(np.linalg.eigvalsh(f.T @ f / len(f)), 0, None)
        p = s / s.sum()
        return float(-(p * np.log(p + 1e-8)).sum())

    with torch.no_grad():
        feats = [net[0](x)]
        for b in net[1]:
            feats.append(b(feats[-1]))
    f = [t.double().numpy() for t in feats]
    ent = [entropy(t) for t in f]
    gen = torch.Generator().manual_seed(0)
    train = []
    for i in reversed(range(3)):
        g_out = (torch.randint(0, 2, feats[i + 1].shape, generator=gen) * 2 - 1).double().numpy()
        w = net[1][i].fc.weight.detach().double().numpy()
        g_in = (g_out * (f[i + 1] > 0)) @ w
        sigma = np.linalg.svd(g_in.T @ g_out / len(g_out), compute_uv=False).max()
        train.append(-sigma - 1 / (sigma + 1e-6) + 2)
    assert got["aznas_expressivity"] == pytest.approx(sum(ent), rel=1e-6)
    assert got["aznas_progressivity"] == pytest.approx(min(np.diff(ent)), rel=1e-6, abs=1e-9)
    assert got["aznas_trainability"] == pytest.approx(np.mean(train), rel=1e-6)


def test_blocks_are_found_in_nb201_autoformer_and_timm_resnets(tiny_nb201):
    import timm

    nb = tiny_nb201.build(tiny_nb201.decode("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"))
    assert block_modules(nb) == list(nb.cells)  # 3 cells + 2 reductions
    af = AutoFormerSpace(variant="test", img_size=32, patch=8)
    vit = af.build(af.sample(1, np.random.default_rng(0))[0], num_classes=10)
    assert block_modules(vit) == list(vit.blocks)
    resnet = timm.create_model("resnet18", num_classes=10)
    assert len(block_modules(resnet)) == 8  # 2 BasicBlocks in each of layer1..layer4


class TinyAttention(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.qkv = nn.Linear(d, d, bias=False)


def test_dss_is_nuclear_norms_for_attention_and_saliency_elsewhere():
    torch.manual_seed(0)
    attn, mlp = TinyAttention(4), nn.Linear(4, 3, bias=False)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn, self.mlp = attn, mlp

        def forward(self, x):
            return self.mlp(self.attn.qkv(x))

    net = Net()
    got = score(Probe(net, torch.randn(2, 4), torch.zeros(2, dtype=torch.long)), {"dss": {}})["dss"]
    w1, w2 = attn.qkv.weight.detach().abs().double(), mlp.weight.detach().abs().double()
    one = torch.ones(4, dtype=torch.float64)
    g1 = torch.outer(w2.T @ torch.ones(3, dtype=torch.float64), one)  # ∂(1ᵀ W2 W1 1)/∂W1
    g2 = torch.outer(torch.ones(3, dtype=torch.float64), w1 @ one)
    expected = (torch.linalg.matrix_norm(g1, "nuc") * torch.linalg.matrix_norm(w1, "nuc") + (w2 * g2).sum())
    assert got == pytest.approx(math.log(float(expected)), rel=1e-9)


def test_reg_swap_and_not_applicable_proxies(batch16, caplog):
    net, x = small_cnn(), torch.randn(6, 3, 5, 5)
    y = torch.zeros(6, dtype=torch.long)
    out = score(Probe(net, x, y), {"swap": {}, "reg_swap": {"mu": 0.1, "sigma": 0.5}})
    n_k = sum(p.numel() for p in net.parameters()) / 1e3
    assert out["reg_swap"] == pytest.approx(out["swap"] * math.exp(-((n_k - 0.1) ** 2) / 0.5))
    with caplog.at_level("INFO"):
        reg = score(Probe(net, x, torch.randn(6, 3)), {"epe_nas": {}})
    assert math.isnan(reg["epe_nas"]) and "epe_nas needs class labels" in caplog.text


def test_meco_features_are_copies_not_views_of_the_batch_output():
    """first_sample_features holds each module's first sample only: a view would keep the whole batch's output
    alive (~8 GB on a ViT-B at 224 px, batch 64). A copy has the view's values, so MeCo is unchanged (its numbers:
    test_meco_matches_numpy_on_every_module_output)."""
    net, x, y = small_cnn(), torch.randn(6, 3, 5, 5), torch.zeros(6, dtype=torch.long)
    feats = first_sample_features(Probe(net, x, y))
    assert len(feats) == 6  # conv, bn, relu, conv, relu, the pooled (C, 1) map (MeCo skips it); not the flat ones
    assert all(f._base is None and f.untyped_storage().nbytes() == f.numel() * f.element_size() for f in feats)
