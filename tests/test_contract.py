"""The proxy contract over the whole registry (timm-style): on a tiny NB201 cell network, a tiny
AutoFormer (the exact Auto-Prox flavour and the Cream one), a tiny PiT and timm's test_resnet / test_vit, on the CPU and (marker ``gpu``, skipped without CUDA) on CUDA, every registered proxy is finite (or NaN where it is declared not to apply), deterministic,
leaves every weight and buffer unchanged, and reads only the probe artifacts it declares."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from zcnas.probe import Probe
from zcnas.proxies import get_proxy, list_proxies, score
from zcnas.spaces import AutoFormerSpace, PiTSpace

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|"
DECLARED_NAN = {(vit, "aznas_progressivity") for vit in ("autoformer", "autoformer_cream", "pit", "timm_vit")}  # AZ-NAS omits it for ViTs
ARTIFACTS = {"acts", "codes", "layers", "grads", "full_grads", "weights", "input_grad", "hessian_grad", "layer_fisher",
             "synflow_terms", "zen_terms", "block_terms", "ntk_eigs", "linear_regions",
             "first_sample_features", "dss_terms", "n_params", "flops"}


class Recorder:
    """Forwards attribute reads to a probe and records which artifacts a proxy touched directly."""

    def __init__(self, probe: Probe):
        self._probe, self.used = probe, set()

    def __getattr__(self, name: str):
        if name in ARTIFACTS:
            self.used.add(name)
        return getattr(self._probe, name)


def network(which, tiny_nb201):
    torch.manual_seed(0)
    if which == "nb201":
        arch = tiny_nb201.decode(CELL)
        return tiny_nb201.build(arch, 10), lambda: tiny_nb201.thin(arch, 10)
    if which.startswith("timm"):  # timm's own tiny test models, random init (no weights downloaded)
        import timm

        kw = {"img_size": 32} if which == "timm_vit" else {}
        return timm.create_model("test_vit" if which == "timm_vit" else "test_resnet", num_classes=10, **kw), None
    if which == "pit":
        pit = PiTSpace(variant="test", img_size=32, patch=8, stride=4)
        return pit.build(pit.sample(1, np.random.default_rng(0))[0], num_classes=10), None
    space = AutoFormerSpace(variant="test", img_size=32, patch=8, flavour="cream" if which.endswith("cream") else "autoprox")
    return space.build(space.sample(1, np.random.default_rng(0))[0], num_classes=10), None


def state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


CUDA = pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine (the gpu marker needs one)")])


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("which", ["nb201", "autoformer", "autoformer_cream", "pit", "timm_resnet", "timm_vit"])
@pytest.mark.parametrize("name", list_proxies())
def test_every_proxy_keeps_the_contract(name, which, device, tiny_nb201, batch16):
    net, thin = network(which, tiny_nb201)
    net = net.to(device)
    batch16 = tuple(t.to(device) for t in batch16)
    before = state(net)
    spec = get_proxy(name)
    recorder = Recorder(Probe(net, *batch16, thin=thin))
    value = float(spec.fn(recorder, **{})) if (which, name) not in DECLARED_NAN else math.nan
    if (which, name) in DECLARED_NAN:
        assert math.isnan(score(Probe(net, *batch16, thin=thin), {name: {}})[name])
    else:
        assert math.isfinite(value), (name, value)
        assert recorder.used and recorder.used <= set(spec.needs), (name, recorder.used, spec.needs)
        again = score(Probe(net, *batch16, thin=thin), {name: {}})[name]
        tol = 1e-6 if device == "cpu" else 1e-4  # cuDNN's backward kernels may sum in another order
        assert again == pytest.approx(value, rel=tol, abs=1e-9)  # deterministic on a fresh probe
    after = state(net)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before), name
    assert all(p.grad is None for p in net.parameters())


def test_declared_needs_name_real_artifacts():
    for name in list_proxies():
        assert set(get_proxy(name).needs) <= ARTIFACTS, name
        assert get_proxy(name).needs, name
