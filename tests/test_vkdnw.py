"""VKDNW (Týbl & Neumann, CVPR 2025) against an independent computation: the Fisher information of
one weight per parameter tensor built sample by sample and class by class with plain autograd,
eigenvalues by numpy, deciles by numpy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from zcnas.probe import Probe
from zcnas.proxies import score
from zcnas.proxies.fim import (
    _jacobian_func,
    _jacobian_hooks,
    decile_entropy,
    fisher_spectrum,
    kaiming_fan_in_copy,
)

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def reference_vkdnw(model: torch.nn.Module, x: torch.Tensor, n_tensors: int) -> tuple[float, np.ndarray]:
    """F = (1/N) Σ_n J_nᵀ (diag p̃ − p̃ p̃ᵀ) J_n, J_n[c, k] = ∂f_c(x_n)/∂θ_k[0] one backward per (n, c);
    VKDNW = entropy of the L1-normalised deciles (numpy's linear quantiles) of eig(F)."""
    model.eval()
    params = [p for _, p in model.named_parameters()][:n_tensors]
    blocks = []
    for n in range(len(x)):
        out = model(x[n:n + 1])[0]
        rows = []
        for c in range(len(out)):
            g = torch.autograd.grad(out[c], params, retain_graph=True, allow_unused=True)
            rows.append([0.0 if gi is None else float(gi.reshape(-1)[0]) for gi in g])
        p = torch.softmax(out.detach().double(), 0).numpy() * 0.95 + 0.05 / len(out)
        J = np.array(rows)
        blocks.append(J.T @ (np.diag(p) - np.outer(p, p)) @ J)
    model.train()
    lam = np.linalg.eigvalsh(np.mean(blocks, 0))
    q = np.quantile(np.abs(lam), np.arange(1, 10) / 10)
    t = q / q.sum()
    return float(-(t * np.log(t + 1e-10)).sum()), np.sort(np.abs(lam))[::-1]


def test_vkdnw_matches_an_explicit_fisher(tiny_nb201, batch16):
    """On the Kaiming-fan-in copy the proxy scores (the reference's init), and with init="own"."""
    torch.manual_seed(0)
    net = tiny_nb201.build(tiny_nb201.decode(CELL), 10)
    x, y = batch16
    own, _ = reference_vkdnw(net, x, 128)
    assert decile_entropy(fisher_spectrum(net, x, init="own").eigenvalues) == pytest.approx(own, rel=1e-6)
    want, lam = reference_vkdnw(kaiming_fan_in_copy(net), x, 128)
    assert abs(want - own) > 1e-3  # the init matters
    spec = fisher_spectrum(net, x)
    np.testing.assert_allclose(spec.eigenvalues.numpy(), lam, rtol=1e-5, atol=1e-12 * lam.max())
    got = score(Probe(net, x, y), {"vkdnw_entropy": {}, "vkdnw": {}, "vkdnw_single": {}})
    assert got["vkdnw_entropy"] == pytest.approx(want, rel=1e-6)
    n_tensors = len(list(net.parameters()))
    assert spec.n_tensors == n_tensors
    assert got["vkdnw"] == pytest.approx(n_tensors + want / math.log(9), rel=1e-9)  # the paper's VKDNW(_single)
    assert got["vkdnw_single"] == got["vkdnw"]  # the deprecated old name
    assert 0 < want < math.log(9)
    # only the first k tensors: the reference's params_grad_len
    want5, _ = reference_vkdnw(net, x, 5)
    assert decile_entropy(fisher_spectrum(net, x, n_tensors=5, init="own").eigenvalues) == pytest.approx(want5, rel=1e-6)


def test_kaiming_copy_follows_the_reference_init(tiny_nb201):
    torch.manual_seed(0)
    net = tiny_nb201.build(tiny_nb201.decode(CELL), 10)
    copy_ = kaiming_fan_in_copy(net)
    convs = [m for m in copy_.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.numel() > 500]
    for m in convs:  # std sqrt(2 / fan_in)
        fan_in = m.weight[0].numel()
        assert m.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.15)
    bns = [m for m in copy_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in bns)
    assert all(torch.equal(a, b) for a, b in zip(kaiming_fan_in_copy(net).parameters(), copy_.parameters(), strict=True))
    assert not torch.equal(next(net.parameters()), next(copy_.parameters()))  # the model itself untouched
    with pytest.raises(ValueError, match="init='xavier'"):
        fisher_spectrum(net, torch.zeros(2, 3, 32, 32), init="xavier")


def test_hook_and_functional_jacobians_agree(tiny_nb201, batch16):
    """The fast path (one batched backward per class, per-sample element-0 gradients read off each
    module) equals torch.func's vmap(jacrev) of the single-sample logits."""
    torch.manual_seed(1)
    net = tiny_nb201.build(tiny_nb201.decode(CELL), 10).eval()
    x = batch16[0][:6]
    names = [k for k, _ in net.named_parameters()]
    fast = _jacobian_hooks(net, x, names)
    assert fast is not None
    slow = _jacobian_func(net, x, names, chunk=4)
    torch.testing.assert_close(fast[0], slow[0], rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(fast[1], slow[1])


def test_vkdnw_leaves_the_model_as_it_was(tiny_nb201, batch16):
    torch.manual_seed(0)
    net = tiny_nb201.build(tiny_nb201.decode(CELL), 10).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fisher_spectrum(net, batch16[0])
    assert net.training and all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_heads_over_the_class_cap_and_non_logit_outputs_are_declared_not_applicable():
    """One backward pass per class: a 300-way head is NaN-with-reason under the default cap (256) and
    scored when the cap is raised; an image-valued output (autoencoder) has no class logits."""
    from torch import nn

    from zcnas.proxies import NotApplicable

    x = torch.randn(4, 3, 8, 8)
    wide = nn.Sequential(nn.Flatten(), nn.Linear(192, 16), nn.ReLU(), nn.Linear(16, 300))
    with pytest.raises(NotApplicable, match="300 classes .* max_classes=256"):
        fisher_spectrum(wide, x)
    assert fisher_spectrum(wide, x, max_classes=300).eigenvalues.numel() == 4
    with pytest.raises(NotApplicable, match=r"needs class logits .*\(1, 3, 8, 8\)"):
        fisher_spectrum(nn.Conv2d(3, 3, 3, padding=1), x)


def test_names_follow_the_paper_and_old_cached_scores_are_read(tmp_path, caplog):
    """proxy=vkdnw is the paper's VKDNW (ℵ first); vkdnw_entropy the entropy alone; vkdnw_single a deprecated
    alias with a one-line warning; scores cached under the old names (vkdnw v2 = the entropy, vkdnw_single v2)
    are read under the new ones (values planted there come back, nothing is probed)."""
    import logging

    from zcnas.cache import digest
    from zcnas.proxies import check_params
    from zcnas.run import score_archs

    from .test_headline import TINY, cfg_with

    with caplog.at_level(logging.WARNING):
        check_params("vkdnw_single", {})
    assert [r.getMessage() for r in caplog.records] == [
        "proxy vkdnw_single is deprecated: use proxy=vkdnw (the same score; the old name goes in the next release)"]
    cfg = cfg_with(*TINY, "n_archs=3", "proxy=[vkdnw,vkdnw_entropy]", f"cache.path={tmp_path / 'c.db'}")
    first = score_archs(cfg, tmp_path / "r1")
    table = pd.read_csv(tmp_path / "r1" / "scores.csv")
    aleph = (table.vkdnw - table.vkdnw_entropy / math.log(9)).dropna()  # ℵ (#tensors) + H / ln 9 vs H
    assert len(aleph) >= 2 and np.allclose(aleph, aleph.round(), atol=1e-9) and (aleph > 10).all()
    assert first["summary"]["n_cached"] == 0
    # the same archs in a cache written before the rename: only the old names, old versions
    import sqlite3

    db = sqlite3.connect(tmp_path / "c.db")
    db.execute("UPDATE scores SET proxy='vkdnw_single', value=value+1000 WHERE proxy='vkdnw'")
    db.execute("UPDATE scores SET proxy='vkdnw', value=-1 WHERE proxy='vkdnw_entropy'")
    db.execute("UPDATE scores SET params=? WHERE proxy IN ('vkdnw', 'vkdnw_single')",
               (digest({"max_classes": 256, "_version": 2}),))
    db.commit()
    db.close()
    again = score_archs(cfg, tmp_path / "r2")
    old = pd.read_csv(tmp_path / "r2" / "scores.csv")
    assert again["summary"]["n_cached"] == 3
    np.testing.assert_array_equal(old.vkdnw, table.vkdnw + 1000)  # NaN stays NaN (NULL in the cache)
    assert (old.vkdnw_entropy == -1).all()


def test_vkdnw_agg_is_the_papers_aggregate_and_names_what_it_lacks(tmp_path):
    """combiner=vkdnw_agg: Σ log(rank/N) of VKDNW, AZ-NAS's three and FLOPs on every arch (it uses no label); a run
    without one of them is a one-line error before scoring."""
    import subprocess
    import sys

    from zcnas.combiners.rank import merge
    from zcnas.metrics import correlate
    from zcnas.run import score_archs

    from .test_headline import TINY, cfg_with

    five = ["vkdnw", "aznas_expressivity", "aznas_progressivity", "aznas_trainability", "flops"]
    out = score_archs(cfg_with(*TINY, "n_archs=12", f"proxy=[{','.join(five)}]", "combiner=vkdnw_agg"), tmp_path / "r")
    table = pd.read_csv(tmp_path / "r" / "scores.csv")
    want = correlate(merge(table[five], "log_rank"), table.cifar10.to_numpy())  # label-free: every cell scored
    rec = next(r for r in out["correlations"] if r["proxy"] == "vkdnw_agg")
    assert rec["n"] == 12 and rec["spearman"] == pytest.approx(want["spearman"])
    assert not any(r["proxy"].endswith(".held_out") for r in out["correlations"])
    r = subprocess.run([sys.executable, "-m", "zcnas.run", *TINY, "n_archs=4", "proxy=[vkdnw,flops]", "combiner=vkdnw_agg",
                        f"hydra.run.dir={tmp_path / 'bad'}"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].endswith(
        "combiner=vkdnw_agg aggregates ['vkdnw', 'aznas_expressivity', 'aznas_progressivity', 'aznas_trainability', "
        "'flops']; this run does not compute aznas_expressivity, aznas_progressivity, aznas_trainability: add them, "
        "e.g. proxy=[vkdnw,aznas_expressivity,aznas_progressivity,aznas_trainability,flops]")
