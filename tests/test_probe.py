"""Probe artifacts against independent computations; the model is left exactly as found."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.probe import Probe, depth_bins
from zcnas.proxies import closure, list_proxies, score
from zcnas.proxies.size import flops_count, n_params
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
    assert n_params(probe) == 3 * 4 * 9 + 256 * 10 + 10
    assert flops_count(probe) == 2 * (4 * 8 * 8 * 3 * 9) + 2 * 256 * 10  # a MAC counts 2


def test_bad_split_count(batch16, tiny_nb201):
    probe = Probe(tiny_nb201.build(decode(FULL)), *batch16)
    with pytest.raises(ValueError, match="n_splits=17"):
        probe.grads(17)


def test_registered_artifact_is_cached_per_arguments_and_planned_into_the_shared_pass(monkeypatch):
    """A family artifact: computed once per argument tuple; its ``needs`` fold into the one full pass."""
    from zcnas.proxies import _registry

    monkeypatch.setattr(_registry, "_ARTIFACTS", dict(_registry._ARTIFACTS))
    calls = []

    @_registry.register_artifact("toy_grad_head", needs=("full_grads",))
    def toy_grad_head(probe: Probe, k: int) -> float:
        calls.append(k)
        return float(probe.full_grads[0][0, :k].sum())

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    probe = Probe(net, x, y)
    forwards = []
    net.register_forward_hook(lambda *_: forwards.append(1))
    probe.plan(closure(["acts", "toy_grad_head"]))
    assert len(probe.acts) == 1 and len(forwards) == 1  # the planned pass also served full_grads ...
    expected = float(torch.autograd.grad(F.cross_entropy(net.train()(x), y), net[0].weight)[0].flatten()[:4].sum())
    forwards.clear()
    assert toy_grad_head(probe, 4) == pytest.approx(expected, rel=1e-6) and forwards == []  # ... so no new pass
    assert toy_grad_head(probe, 4) == probe._cache["toy_grad_head", 4] and calls == [4]  # computed once
    toy_grad_head(probe, 2)
    assert calls == [4, 2]
    with pytest.raises(ValueError, match="registered twice"):
        _registry.register_artifact("toy_grad_head")(toy_grad_head)
    with pytest.raises(ValueError, match="registered twice"):
        _registry.register_artifact("acts")(toy_grad_head)


def test_unknown_artifact_is_a_one_line_error():
    assert closure(["codes"]) == {"codes", "acts"}  # codes packs acts (zcnas.probe.ENGINE_NEEDS)
    assert closure(["sigma_terms"]) == {"sigma_terms", "grads"}  # a family artifact and what it reads
    with pytest.raises(KeyError, match="unknown probe artifact 'nope'; valid: acts, block_terms"):
        closure(["codes", "nope"])


def test_the_engine_imports_no_proxy_module():
    """No import circle: zcnas.probe imports nothing of zcnas.proxies (the registry sits above the engine)."""
    import subprocess
    import sys

    code = "import sys, zcnas.probe; print(sorted(m for m in sys.modules if m.startswith('zcnas.proxies')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_hooks_and_restore_path_undo_everything_on_error():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    probe = Probe(net, torch.randn(4, 3, 8, 8), torch.zeros(4, dtype=torch.long))
    before = state_digest(net)
    seen = []
    with pytest.raises(RuntimeError, match="boom"):
        with probe.hooks(probe.modules_of((nn.ReLU,)), lambda _m, _i, out: seen.append(out.shape)), probe.restored():
            assert net.training
            net(probe.inputs).sum().backward()
            raise RuntimeError("boom")
    assert seen == [(4, 4, 6, 6)]
    assert all(not m._forward_hooks for m in net.modules())
    assert state_digest(net) == before and not net.training  # BN running stats and mode back
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("name", ["lswag", "lswag_lambda", "zico", "meco", "meco_opt", "synflow", "dss", "zen", "fisher",
                                  "aznas_expressivity"])
def test_each_proxy_reads_its_per_layer_values_back_in_one_transfer(name):
    """Per-layer reductions stay on the tensors' device and each artifact crosses to the host once (``tolist``),
    not a ``float()`` per layer (a host sync each on CUDA): counted with the engine's :class:`SyncCounter`."""
    from zcnas.data import Task
    from zcnas.engine import SyncCounter
    from zcnas.proxies import check_params
    from zcnas.spaces import NB201Space

    space = NB201Space(C=8, N=1)
    torch.manual_seed(0)
    net = space.build(space.sample(1, __import__("numpy").random.default_rng(0))[0], 10)
    x, y = Task().batch(16, 0)
    with SyncCounter() as c:
        value = score(Probe(net, x, y), {name: check_params(name, {})})[name]
    assert value == value
    assert c.calls["__float__"] + c.calls["item"] + c.calls["__int__"] == 0 and c.calls["tolist"] == 1, dict(c.calls)
    if name in ("meco", "meco_opt"):  # one batched eigvalsh per correlation-matrix size, not one per module
        assert c.calls["linalg_eigvalsh"] <= 3, dict(c.calls)


def test_masked_sum_without_compaction_agrees_and_ignores_what_the_mask_drops():
    """The CUDA path of L-SWAG's and ZiCo's masked sums (no host sync), run here on CPU: the same sums up to
    rounding, and inf/NaN outside the mask (1/σ at σ = 0, E|g|/σ at σ = 0) never leak in."""
    from zcnas.proxies.gradstats import masked_sum

    torch.manual_seed(0)
    sigma = torch.rand(10_000, dtype=torch.float64) * (torch.rand(10_000) > 0.3)
    keep = sigma > 0
    for x in (sigma.reciprocal(), sigma.log(), torch.rand(10_000, dtype=torch.float64) / sigma):
        a, b = masked_sum(x, keep, compact=True), masked_sum(x, keep, compact=False)
        assert torch.isfinite(b) and abs(float(a) - float(b)) <= 1e-12 * abs(float(a))
    assert float(masked_sum(sigma.reciprocal(), sigma < 0, compact=False)) == 0.0


def test_artifacts_are_released_after_their_last_reader_without_changing_or_recomputing_anything(monkeypatch):
    """score(..., keep=...) frees each artifact once no remaining proxy declares it (GPU memory with several archs
    in flight): every value equal to a run that keeps all, each pass still run once (no proxy reads an artifact it
    did not declare), and only what the caller keeps (the decile record's needs) survives."""
    import math

    import numpy as np

    from zcnas.data import Task
    from zcnas.engine import DECILE_NEEDS
    from zcnas.proxies import check_params
    from zcnas.spaces import NB201Space

    space = NB201Space(C=8, N=1)
    torch.manual_seed(0)
    net = space.build(space.sample(1, np.random.default_rng(1))[0], 10)
    x, y = Task().batch(16, 0)
    proxies = {n: check_params(n, {}) for n in list_proxies() if n != "vkdnw_single"}
    calls = {"_full_pass": 0, "_passes": 0}
    for meth in calls:
        orig = getattr(Probe, meth)

        def counted(self, *a, _orig=orig, _m=meth, **k):
            calls[_m] += 1
            return _orig(self, *a, **k)

        monkeypatch.setattr(Probe, meth, counted)
    kept = score(Probe(net, x, y), proxies)
    before = dict(calls)
    probe = Probe(net, x, y)
    freed = score(probe, proxies, keep=DECILE_NEEDS)
    assert {k: calls[k] - before[k] for k in calls} == before  # the same passes, none repeated
    assert all(freed[n] == kept[n] or (math.isnan(freed[n]) and math.isnan(kept[n])) for n in proxies)
    left = {k[0] for k in probe._cache}
    assert {"grads", "sigma_terms", "acts", "codes", "layers"} <= left
    assert not left & {"full_grads", "input_grad", "hessian_grad", "first_sample_features", "block_terms", "layer_fisher"}
    probe = Probe(net, x, y)
    score(probe, {n: proxies[n] for n in ("lswag", "meco", "grasp")}, keep=())
    assert {k[0] for k in probe._cache} <= {"layers"}


def test_the_documented_proxy_family_example_registers_and_scores():
    """docs/extending.md's two-file family: its code registers an artifact and a proxy that score as stated."""
    import re
    import subprocess
    import sys

    from .conftest import ROOT

    block = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "extending.md").read_text(), re.S).group(1)
    code = "\n".join(line.removeprefix("   ") for line in block.splitlines()) + """
import torch
from torch import nn
from zcnas.proxies import score
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3), nn.ReLU())
x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
expected = float((net.train()(x) > 0).float().mean())
got = score(Probe(net, x, y), {"my_proxy": {"scale": 2.0}})["my_proxy"]
print(got, 2 * expected)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) == pytest.approx(float(out[1]), rel=1e-6) and 0 < float(out[0]) <= 2
