"""Each proxy against an independent computation (numpy / brute force) on small real inputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.probe import Probe, pack_patterns
from zcnas.proxies import get_proxy, list_proxies, score
from zcnas.proxies.activation import count_unique_patterns
from zcnas.spaces.nb201 import decode

CONF = Path(__file__).resolve().parent.parent / "conf"


def mlp() -> nn.Module:
    """4 weight layers (deciles 2, 5, 7, 10) and 3 activation layers (deciles 3, 6, 10)."""
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(6, 9), nn.ReLU(), nn.Linear(9, 9), nn.ReLU(),
                         nn.Linear(9, 9), nn.GELU(), nn.Linear(9, 3))


@pytest.fixture
def mlp_probe() -> Probe:
    torch.manual_seed(2)
    return Probe(mlp(), torch.randn(12, 6), torch.randint(0, 3, (12,)))


def half_grads(probe: Probe) -> list[np.ndarray]:
    """Per weight layer, (2, numel) gradients of each half batch, by plain autograd."""
    net, x, y = probe.model, probe.inputs, probe.targets
    ws = [m.weight for m in net if isinstance(m, nn.Linear)]
    per = [torch.autograd.grad(F.cross_entropy(net(xs), ys), ws) for xs, ys in zip(x.chunk(2), y.chunk(2), strict=True)]
    return [np.stack([per[0][i].flatten().numpy(), per[1][i].flatten().numpy()]).astype(np.float64)
            for i in range(len(ws))]


def brute_patterns(probe: Probe, which: list[int]) -> int:
    """Distinct per-unit sample patterns, counted as python tuples."""
    net, x = probe.model, probe.inputs
    h, acts = x, []
    with torch.no_grad():
        for m in net:
            h = m(h)
            if isinstance(m, (nn.ReLU, nn.GELU)):
                acts.append((h > 0).numpy())
    return len({tuple(col) for i in which for col in acts[i].T})


def test_registry_matches_conf_files():
    presets = {"suite_zero", "all"}
    assert {p.stem for p in (CONF / "proxy").glob("*.yaml")} - presets == set(list_proxies())
    with pytest.raises(KeyError, match="unknown proxy 'nope'; valid: "):
        get_proxy("nope")


def test_pack_patterns_multiword_and_unique():
    torch.manual_seed(0)
    p = torch.rand(130, 500) > 0.97  # 130 samples -> 3 words, many repeated all-zero rows
    codes = pack_patterns(p)
    assert codes.shape == (500, 3)
    assert count_unique_patterns([codes]) == len({tuple(c) for c in p.T.numpy()})
    bits = p[:64].T.to(torch.int64) << torch.arange(64)  # the plain definition of the first word
    assert torch.equal(codes[:, 0], bits.sum(1))


def test_swap_brute_force(mlp_probe):
    assert get_proxy("swap").fn(mlp_probe) == brute_patterns(mlp_probe, [0, 1, 2])


def test_nwot_brute_force():
    """K is an integer matrix: the batch is chosen so that det K is far from 0 (a singular K makes
    log|det| rounding noise in any LAPACK, -inf in some, about -18 in others)."""
    net = mlp()
    torch.manual_seed(2)
    probe = Probe(net, torch.randn(12, 6), torch.randint(0, 3, (12,)))
    s, h = 12, probe.inputs
    k = np.zeros((s, s))
    with torch.no_grad():
        for m in net:
            h = m(h)
            if isinstance(m, (nn.ReLU, nn.GELU)):
                c = (h > 0).numpy()
                k += (c[:, None, :] == c[None, :, :]).sum(-1)  # #units minus Hamming distance
    assert np.linalg.slogdet(k)[1] > 10
    assert get_proxy("nwot").fn(probe) == pytest.approx(np.linalg.slogdet(k)[1], rel=1e-12)


def test_zico_reference_code(mlp_probe):
    """ZiCo's official loop: no zero_grad between batches, np.std of signed grads, σ = 0 dropped."""
    ref = 0.0
    for g in half_grads(mlp_probe):
        g = np.stack([g[0], g[0] + g[1]])  # accumulated .grad after each batch
        std, mean_abs = np.std(g, axis=0), np.mean(np.abs(g), axis=0)
        nz = np.nonzero(std)[0]
        s = np.sum(mean_abs[nz] / std[nz])
        ref += np.log(s) if s != 0 else 0.0
    assert get_proxy("zico").fn(mlp_probe) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("lo,hi,layers,acts", [(0, 10, [0, 1, 2, 3], [0, 1, 2]),
                                               (3, 7, [1, 2], [0, 1]),
                                               (5, 5, [1], [0])])
def test_lswag_hand_computed(mlp_probe, lo, hi, layers, acts):
    """Λ = Σ_{l in window} log Σ_w 1/σ(|g_w|) (ddof 0) over the two halves; Ψ over act deciles ≤ hi."""
    grads = half_grads(mlp_probe)
    lam = 0.0
    for i in layers:
        sigma = np.std(np.abs(grads[i]), axis=0)
        lam += np.log(np.sum(1.0 / sigma[sigma > 0]))
    psi = brute_patterns(mlp_probe, acts)
    value = get_proxy("lswag").fn(mlp_probe, lo=lo, hi=hi)
    assert value == pytest.approx(lam * psi, rel=1e-9)
    assert lam > 0  # σ ≪ 1 at init keeps Λ positive (a negative Λ would invert Λ·Ψ; L-SWAG, Casarin et al., CVPR 2025, Eq. 1)


def test_lswag_accumulate_and_per_sample_options(mlp_probe):
    base = get_proxy("lswag").fn(mlp_probe)
    assert get_proxy("lswag").fn(mlp_probe, accumulate=True) != base
    per_sample = get_proxy("lswag").fn(mlp_probe, n_splits=12)
    assert math.isfinite(per_sample) and per_sample != base


def test_dead_cell_gives_nan_for_nwot_and_zero_for_lswag(batch16):
    """Input cut off by `none` edges: every sample looks alike, so nwot's det is 0 (-inf, recorded
    as NaN), SWAP sees one pattern and L-SWAG's Λ is 0 (no gradient reaches any weight)."""
    from zcnas.spaces import NB201Space

    arch = decode("|none~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_3x3~2|")
    torch.manual_seed(0)
    out = score(Probe(NB201Space(C=4, N=1).build(arch), *batch16), {"nwot": {}, "lswag": {}, "swap": {}, "params": {}})
    assert math.isnan(out["nwot"])
    assert out["lswag"] == 0.0
    assert out["swap"] == 1.0
    assert out["params"] > 0


def test_presets_compose_to_the_registered_proxies():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        suite = list(compose(config_name="config", overrides=["proxy=suite_zero"]).proxy)
        every = list(compose(config_name="config", overrides=["proxy=all"]).proxy)
    assert len(suite) == 13 and set(suite) == {"params", "flops", "synflow", "snip", "grasp", "fisher", "grad_norm",
                                               "jacov", "nwot", "epe_nas", "zen", "plain", "l2_norm"}
    assert set(every) == {p for p in list_proxies() if not get_proxy(p).deprecated_for}  # not the old names
