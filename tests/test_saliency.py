"""Suite-Zero saliency/Jacobian proxies against independent computations on tiny nets with known
answers (synflow's conservation law, jacov/epe_nas on a linear map, GraSP via torch.func HVP),
and the fused engine against one probe per proxy (the registry-wide contract is in test_contract.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.probe import Probe
from zcnas.proxies import score
from zcnas.spaces import AutoFormerSpace


@pytest.fixture
def mlp():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5, bias=False), nn.ReLU(), nn.Linear(5, 3, bias=False))
    x, y = torch.randn(8, 6), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    return net, x, y


def test_synflow_is_log_of_twice_the_flow_through_a_two_layer_net(mlp):
    """Synaptic flow is conserved layer to layer: each layer's Σ|θ ⊙ ∂R/∂θ| equals R = 1ᵀ|W2||W1|1."""
    net, x, y = mlp
    w1, w2 = net[0].weight.detach().abs().double(), net[2].weight.detach().abs().double()
    r = float(torch.ones(3, dtype=torch.float64) @ w2 @ w1 @ torch.ones(6, dtype=torch.float64))
    assert score(Probe(net, x, y), {"synflow": {}})["synflow"] == pytest.approx(math.log(2 * r), rel=1e-12)


def test_gradient_saliencies_match_autograd(mlp):
    net, x, y = mlp
    ws = [net[0].weight, net[2].weight]
    gs = torch.autograd.grad(F.cross_entropy(net(x), y), ws)
    out = score(Probe(net, x, y), {n: {} for n in ("snip", "plain", "grad_norm", "l2_norm")})
    assert out["snip"] == pytest.approx(float(sum((g * w).abs().sum() for g, w in zip(gs, ws, strict=True))), rel=1e-5)
    assert out["plain"] == pytest.approx(float(sum((g * w).sum() for g, w in zip(gs, ws, strict=True))), rel=1e-4, abs=1e-7)
    assert out["grad_norm"] == pytest.approx(float(sum(g.norm() for g in gs)), rel=1e-5)
    assert out["l2_norm"] == pytest.approx(float(sum(w.norm() for w in ws)), rel=1e-6)


def test_grasp_matches_a_torch_func_hessian_vector_product(mlp):
    net, x, y = mlp
    params = {k: v.detach() for k, v in net.named_parameters()}

    def loss(p):
        return F.cross_entropy(torch.func.functional_call(net, p, (x,)), y)

    g = torch.func.grad(loss)(params)
    _, hg = torch.func.jvp(torch.func.grad(loss), (params,), (g,))  # H g (forward-over-reverse)
    expected = float(sum((-params[k] * hg[k]).sum() for k in params))
    assert score(Probe(net, x, y), {"grasp": {}})["grasp"] == pytest.approx(expected, rel=1e-4)


def test_fisher_matches_hand_computed_activation_gradients(mlp):
    net, x, y = mlp
    a1 = net[0](x)
    a1.retain_grad()
    a2 = net[2](net[1](a1))
    a2.retain_grad()
    F.cross_entropy(a2, y).backward()
    # foresight: pow(2).mean(0) per channel, broadcast to the channel's fan-in weights (6 and 5 here)
    expected = sum(fan_in * float((0.5 * ((a * a.grad) ** 2).mean(0)).sum()) for a, fan_in in ((a1, 6), (a2, 5)))
    net.zero_grad()
    assert score(Probe(net, x, y), {"fisher": {}})["fisher"] == pytest.approx(expected, rel=1e-5)


def test_jacov_and_epe_nas_on_a_linear_map():
    """f(x) = Wx: every sample's input gradient is Wᵀ1, so corrcoef(J) is all ones with eigenvalues
    (S, 0, ..., 0); per class, Σ log(|1| + k) over n_c² entries."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 3, bias=False))
    x, y = torch.randn(8, 6), torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    k, s = 1e-5, 8
    out = score(Probe(net, x, y), {"jacov": {"k": k}, "epe_nas": {"k": k}})
    assert out["jacov"] == pytest.approx(-((math.log(s + k) + 1 / (s + k)) + (s - 1) * (math.log(k) + 1 / k)), rel=1e-6)
    assert out["epe_nas"] == pytest.approx((9 + 4 + 9) * math.log(1 + k), rel=1e-4)


def test_zen_follows_the_zennas_recipe_on_a_tiny_cnn():
    """The ZenNAS procedure written out: N(0,1) re-init (generator seed 0, module order), x, ε, two
    train-mode forwards, pre-pooling L1 difference, plus Σ_BN log √mean(running_var)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 10))
    x0, y0 = torch.randn(6, 3, 8, 8), torch.zeros(6, dtype=torch.long)
    got = score(Probe(net, x0, y0), {"zen": {}})["zen"]
    gen = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, bias=False)
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
        torch.randn(net[5].weight.shape, generator=gen)  # the head's draw (after the tap)
        x, eps = torch.randn(x0.shape, generator=gen), torch.randn(x0.shape, generator=gen)
        f1, f2 = torch.relu(bn(conv(x))), torch.relu(bn(conv(x + 1e-2 * eps)))
    expected = math.log(float((f1 - f2).abs().sum((1, 2, 3)).mean())) + math.log(math.sqrt(float(bn.running_var.mean())))
    assert got == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("which", ["nb201", "autoformer"])
def test_fused_engine_equals_one_probe_per_proxy(which, tiny_nb201, batch16):
    """Every registered proxy: the shared-probe numbers equal those of a fresh probe per proxy."""
    from omegaconf import OmegaConf

    from zcnas.engine import probe_and_score
    from zcnas.proxies import list_proxies

    x, y = batch16
    if which == "nb201":
        space = tiny_nb201
        arch = space.decode("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    else:
        space = AutoFormerSpace(variant="test", img_size=32, patch=8)
        arch = space.sample(1, np.random.default_rng(0))[0]
    torch.manual_seed(0)
    net = space.build(arch, num_classes=10)
    cfg = OmegaConf.create({"share_passes": which == "autoformer", "share_splits": 2})
    proxies = {n: {} for n in list_proxies()}
    fused = probe_and_score(net, x, y, proxies, cfg, "a", fused=True)
    alone = probe_and_score(net, x, y, proxies, cfg, "a", fused=False)
    assert set(fused) == set(list_proxies())
    for name in proxies:
        assert fused[name] == pytest.approx(alone[name], rel=1e-5, nan_ok=True), name


def test_fused_engine_runs_one_full_batch_pass_for_the_suite_zero_proxies(tiny_nb201, batch16):
    """The 13 Suite-Zero proxies on one probe: one forward of the network serves activations, the
    loss gradient, Fisher, H g and the input gradient; the FLOP count adds a 1-image forward. One
    probe per proxy runs the network once per proxy (zen and synflow run on copies)."""
    from omegaconf import OmegaConf

    from zcnas.engine import probe_and_score

    net = tiny_nb201.build(tiny_nb201.decode("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|"))
    sizes: list[int] = []
    net.register_forward_pre_hook(lambda mod, inp: sizes.append(len(inp[0])) if mod is net else None)
    suite = ["params", "flops", "synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "epe_nas",
             "zen", "plain", "l2_norm"]
    cfg = OmegaConf.create({"share_passes": False, "share_splits": 2})
    probe_and_score(net, *batch16, {n: {} for n in suite}, cfg, "a", fused=True)
    assert sorted(sizes) == [1, 16]
    sizes.clear()
    probe_and_score(net, *batch16, {n: {} for n in suite}, cfg, "a", fused=False)
    assert sorted(sizes) == [1] + [16] * 9  # snip, plain, grad_norm, grasp, fisher, jacov, epe_nas, nwot, l2_norm


def test_input_independent_network_has_no_jacobian_correlation(tiny_nb201, batch16):
    """A cell with no path from input to output (every input gradient 0): corrcoef is undefined, so
    jacov and epe_nas are NaN as in the references (NASLib stores −1e8), never a top score."""
    torch.manual_seed(0)
    net = tiny_nb201.build(tiny_nb201.decode("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|skip_connect~1|none~2|"))
    out = score(Probe(net, *batch16), {"jacov": {}, "epe_nas": {}, "nwot": {}})
    assert math.isnan(out["jacov"]) and math.isnan(out["epe_nas"])
    live = tiny_nb201.build(tiny_nb201.decode("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|skip_connect~1|none~2|"))
    assert all(math.isfinite(v) for v in score(Probe(live, *batch16), {"jacov": {}, "epe_nas": {}}).values())
