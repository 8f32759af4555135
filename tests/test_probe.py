"""Probe artifacts against independent computations; the model is left exactly as found."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.probe import Probe, depth_bins
from zcnas.proxies import list_proxies, score
from zcnas.spaces.nb201 import decode

FULL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def state_digest(model: nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_depth_bins_formula():
    assert depth_bins(10) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert depth_bins(4) == [2, 5, 7, 10]
    assert depth_bins(20)[:3] == [0, 1, 1]


def test_layers_in_forward_order_and_acts_shapes():
    net = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3), nn.GELU(), nn.Linear(3, 2))
    x, y = torch.randn(8, 5), torch.randint(0, 2, (8,))
    probe = Probe(net, x, y)
    assert [n for n, _ in probe.layers] == ["0", "2", "4"]
    assert [tuple(a.shape) for a in probe.acts] == [(8, 7), (8, 3)]
    h = torch.relu(net[0](x))
    assert torch.equal(probe.acts[0], h > 0)
    assert torch.equal(probe.acts[1], F.gelu(net[2](h)) > 0)


def test_split_grads_match_autograd(tiny_nb201, batch16):
    torch.manual_seed(0)
    net = tiny_nb201.build(decode(FULL))
    x, y = batch16
    probe = Probe(net, x, y)
    grads = probe.grads(2)
    weights = [m.weight for _, m in probe.layers]
    for k, (xs, ys) in enumerate(zip(x.chunk(2), y.chunk(2), strict=True)):
        net.train()
        ref = torch.autograd.grad(F.cross_entropy(net(xs), ys), weights, allow_unused=True)
        for g, r in zip(grads, ref, strict=True):
            torch.testing.assert_close(g[k], (r if r is not None else torch.zeros_like(g[k])).flatten())
    # forward order of a NB201 network: stem first, classifier last
    assert probe.layers[0][0] == "stem.0" and probe.layers[-1][0] == "classifier"


def test_probe_restores_model(tiny_nb201, batch16):
    torch.manual_seed(0)
    net = tiny_nb201.build(decode(FULL)).eval()
    before = state_digest(net)
    x, y = batch16
    out = score(Probe(net, x, y), {n: {} for n in list_proxies()})
    assert all(v == v for v in out.values()), out  # every proxy is finite on this cell
    assert state_digest(net) == before  # weights and BN running stats unchanged
    assert not net.training
    assert all(p.grad is None for p in net.parameters())


def test_flops_and_params_hand_count():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 8 * 8, 10))
    probe = Probe(net, torch.randn(4, 3, 8, 8), torch.zeros(4, dtype=torch.long))
    assert probe.n_params == 3 * 4 * 9 + 256 * 10 + 10
    assert probe.flops == 2 * (4 * 8 * 8 * 3 * 9) + 2 * 256 * 10  # a MAC counts 2


def test_bad_split_count(batch16, tiny_nb201):
    probe = Probe(tiny_nb201.build(decode(FULL)), *batch16)
    with pytest.raises(ValueError, match="n_splits=17"):
        probe.grads(17)
