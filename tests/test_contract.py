"""The proxy contract over the whole registry (timm-style): on a tiny NB201 cell network, a tiny
AutoFormer (the exact Auto-Prox flavour and the Cream one), a tiny PiT, timm's test_resnet / test_vit and tiny
NB101, DARTS and TNB101 micro (autoencoder: L1 loss, image targets) / macro (jigsaw: 9-tile inputs) networks, each
probed with its task's batch and loss, on the CPU and (marker ``gpu``, skipped without CUDA) on CUDA, every registered proxy is finite (or NaN where it is declared not to apply), deterministic,
leaves every weight and buffer unchanged, and reads only the probe artifacts it declares."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from zcnas.data.tasks import TNB101Task
from zcnas.probe import Probe
from zcnas.proxies import get_proxy, list_artifacts, list_proxies, score
from zcnas.proxies.spectral import block_terms, first_sample_features
from zcnas.spaces import (
    SPACE_CLASSES,
    AutoFormerSpace,
    DartsSpace,
    NB101Space,
    NB201Space,
    PiTSpace,
    TimmSpace,
    TNB101Space,
)

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|"
DECLARED_NAN = {(vit, "aznas_progressivity") for vit in ("autoformer", "autoformer_cream", "pit", "timm_vit")}  # AZ-NAS omits it for ViTs
# the autoencoder's targets are images: epe_nas needs classes; Zen-NAS needs pre-pooling features (no GAP, no Linear);
# its tanh output saturates on the linearised all-ones input, so SynFlow's / DSS's gradients vanish (log 0; Suite-Zero
# has no synflow for TNB101 either)
DECLARED_NAN |= {("tnb101_micro", p) for p in ("epe_nas", "zen", "synflow", "dss")}
# VKDNW differentiates class logits, one backward pass per class: none on the autoencoder, and the
# jigsaw head's 1,000 permutation classes are over its max_classes cap (256)
DECLARED_NAN |= {(w, p) for w in ("tnb101_micro", "tnb101_macro") for p in ("vkdnw", "vkdnw_entropy", "vkdnw_single")}
DARTS_CELL = ("Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_5x5', 1), ('skip_connect', 0), ('max_pool_3x3', 2), "
              "('sep_conv_5x5', 1), ('avg_pool_3x3', 3), ('dil_conv_3x3', 2), ('skip_connect', 4)], normal_concat=[2, 3, 4, 5], "
              "reduce=[('max_pool_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 2), ('dil_conv_3x3', 0), "
              "('avg_pool_3x3', 1), ('sep_conv_5x5', 3), ('skip_connect', 4), ('dil_conv_5x5', 2)], reduce_concat=[2, 3, 4, 5])")
NB101_CELL = ("(0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, "
              "0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 4, 3, 4, 2, 4, 1)")
ARTIFACTS = set(list_artifacts())  # the engine's and every family's registered ones (zcnas.proxies)


class Recorder:
    """Forwards attribute reads to a probe and records which artifacts a proxy touched directly: engine artifacts
    as attributes, family artifacts through :meth:`Probe.artifact` (computed on the real probe, so what they
    read in turn is theirs, not the proxy's)."""

    def __init__(self, probe: Probe):
        self._probe, self.used = probe, set()

    def artifact(self, key, compute):
        self.used.add(key[0])
        return self._probe.artifact(key, compute)

    def ridden(self, name, rider):
        self.used.add(name)
        return self._probe.ridden(name, rider)

    def __getattr__(self, name: str):
        if name in ARTIFACTS:
            self.used.add(name)
        return getattr(self._probe, name)


def inputs(which, batch16):
    """The batch and loss a network of ``which`` is probed with (its task's)."""
    if which.startswith("tnb101"):
        task = TNB101Task(name="autoencoder" if which == "tnb101_micro" else "jigsaw")
        task.resolution = 32 if which == "tnb101_micro" else task.resolution  # small autoencoder images
        return (*task.batch(16, 0), task.loss)
    return (*batch16, torch.nn.functional.cross_entropy)


def network(which, tiny_nb201):
    torch.manual_seed(0)
    if which == "nb101":
        space = NB101Space(stem=8, cells=1)
        return space.build(space.decode(NB101_CELL), 10), None
    if which == "darts":
        space = DartsSpace(C=4, layers=4)
        return space.build(space.decode(DARTS_CELL), 10), None
    if which.startswith("tnb101"):
        variant, task = ("micro", "autoencoder") if which == "tnb101_micro" else ("macro", "jigsaw")
        space = TNB101Space(variant, task, base=8)
        return space.build(space.decode("(3, 1, 2, 3, 0, 3)" if variant == "micro" else "(4, 1, 2, 3, 0, 0)")), None
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


NETWORKS = {"nb201": NB201Space, "autoformer": AutoFormerSpace, "autoformer_cream": AutoFormerSpace, "pit": PiTSpace,
            "timm_resnet": TimmSpace, "timm_vit": TimmSpace, "nb101": NB101Space, "darts": DartsSpace,
            "tnb101_micro": TNB101Space, "tnb101_macro": TNB101Space}
"""The contract's tiny network of each kind (:func:`network`) and the space it comes from."""


def test_every_registered_space_has_a_contract_network():
    assert set(NETWORKS.values()) == set(SPACE_CLASSES.values())  # a new space joins the contract or this fails


def state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


CUDA = pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine (the gpu marker needs one)")])


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("which", list(NETWORKS))
@pytest.mark.parametrize("name", list_proxies())
def test_every_proxy_keeps_the_contract(name, which, device, tiny_nb201, batch16):
    net, thin = network(which, tiny_nb201)
    net = net.to(device)
    x, y, loss = inputs(which, batch16)
    batch16 = (x.to(device), y.to(device))
    before = state(net)
    spec = get_proxy(name)
    recorder = Recorder(Probe(net, *batch16, thin=thin, loss_fn=loss))
    value = float(spec.fn(recorder, **{})) if (which, name) not in DECLARED_NAN else math.nan
    if (which, name) in DECLARED_NAN:
        assert math.isnan(score(Probe(net, *batch16, thin=thin, loss_fn=loss), {name: {}})[name])
    else:
        assert math.isfinite(value), (name, value)
        assert recorder.used and recorder.used <= set(spec.needs), (name, recorder.used, spec.needs)
        again = score(Probe(net, *batch16, thin=thin, loss_fn=loss), {name: {}})[name]
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


RIDING = ["meco", "meco_opt", "aznas_expressivity", "aznas_progressivity", "aznas_trainability"]
"""The proxies whose artifacts (MeCo's features, AZ-NAS's block terms) ride on the shared full-batch pass."""


@pytest.mark.parametrize("which", list(NETWORKS))
def test_riders_on_the_shared_pass_equal_their_own_forward(which, tiny_nb201, batch16):
    """Planned with proxies that run the shared full-batch pass (jacov's input gradient, nwot's patterns), MeCo's and
    AZ-NAS's artifacts come from that pass's forward (one forward in all, where there were three) and are bit-identical
    to those of a forward of their own, and so are the scores."""
    net, thin = network(which, tiny_nb201)
    x, y, loss = inputs(which, batch16)
    forwards = []
    net.register_forward_hook(lambda *_: forwards.append(1))
    alone = Probe(net, x, y, thin=thin, loss_fn=loss)
    feats, terms = first_sample_features(alone), block_terms(alone)
    assert len(forwards) == 2
    forwards.clear()
    shared = Probe(net, x, y, thin=thin, loss_fn=loss)
    both = score(shared, dict.fromkeys(["jacov", "nwot", *RIDING], {}))
    assert len(forwards) == 1  # the shared pass served jacov, nwot, MeCo and AZ-NAS
    shared_feats = first_sample_features(shared)
    assert len(shared_feats) == len(feats) and all(torch.equal(a, b) for a, b in zip(feats, shared_feats, strict=True))
    assert block_terms(shared) == terms
    one = score(Probe(net, x, y, thin=thin, loss_fn=loss), dict.fromkeys(RIDING, {}))
    assert [both[p] for p in RIDING] == pytest.approx([one[p] for p in RIDING], rel=0, abs=0, nan_ok=True)
