"""Pruning-at-initialisation saliencies and Jacobian proxies of NAS-Bench-Suite-Zero.

Notation: θ = Conv/Linear weights, g = ∂L/∂θ on the whole batch (cross-entropy), sums over layers.
References: Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021
(``SamsungLabs/zero-cost-nas`` ``foresight/pruners/measures``); NAS-Bench-Suite-Zero (NASLib
``naslib/predictors/utils/pruners/measures``). Higher = predicted better for every proxy.

Deliberate choices (documented per proxy): synflow is returned as ``log`` (NASLib's transform; the
raw value overflows float64 on deep nets); jacov and epe_nas follow NASLib's signs.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from zcnas.probe import WEIGHT_TYPES, Probe, by_shape
from zcnas.proxies._registry import NotApplicable, register_artifact, register_proxy, require

ZEN_GAMMA = 1e-2
"""Zen-NAS perturbation scale γ of x + γε (the reference's ``mixup_gamma``)."""


def linearised_copy(model: nn.Module, drop_norms: bool) -> nn.Module:
    """A float64 eval-mode copy with every parameter and buffer replaced by its absolute value
    (SynFlow/DSS linearisation); ``drop_norms`` replaces BatchNorm/LayerNorm/GroupNorm by identity."""
    net = copy.deepcopy(model).double()
    norm_types = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
    for mod in list(net.modules()):
        for child_name, child in list(mod.named_children()):
            if drop_norms and isinstance(child, norm_types):
                setattr(mod, child_name, nn.Identity())
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    return net.eval()


@register_artifact("synflow_terms")
def synflow_terms(probe: Probe) -> list[float]:
    """Per Conv/Linear layer, Σ |θ ⊙ ∂R/∂θ| with R = 1ᵀ f(𝟙) on a float64 copy of the network
    with |θ| and normalisation layers removed (Tanaka et al. 2020; foresight ``synflow``, bn=False)."""
    net = linearised_copy(probe.model, drop_norms=True)
    layers = probe.modules_of(WEIGHT_TYPES, net)
    x = torch.ones((1, *probe.inputs.shape[1:]), dtype=torch.float64, device=probe.inputs.device)
    with torch.enable_grad():
        net.zero_grad(set_to_none=True)
        net(x).sum().backward()
    weights: list[torch.Tensor] = [m.weight for m in layers]  # type: ignore[misc]
    zero = x.new_zeros(())
    sums = [(w * w.grad).detach().abs().sum() if w.grad is not None else zero for w in weights]
    return torch.stack(sums).tolist() if sums else []  # one transfer to the host


@register_artifact("zen_terms")
def zen_terms(probe: Probe) -> tuple[float, float]:
    """Zen-NAS on a Gaussian re-initialised copy (Conv/Linear θ ~ N(0, 1), norm layers 1/0), train
    mode, data-free: (E_n ‖f(x) − f(x + γε)‖₁ of the pre-pooling features, Σ_BN log √mean(running
    var)), x, ε ~ N(0, I), γ = :data:`ZEN_GAMMA`, a fixed generator (Lin et al., ICCV 2021; ZenNAS reference)."""
    net = copy.deepcopy(probe.model)  # a throwaway copy: its BatchNorm statistics are read, not restored
    gen = torch.Generator(device="cpu").manual_seed(0)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, WEIGHT_TYPES):
                w: torch.Tensor = m.weight  # type: ignore[assignment]
                w.copy_(torch.randn(w.shape, generator=gen))
                if isinstance(m.bias, torch.Tensor):
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm | nn.LayerNorm) and m.weight is not None:
                m.weight.fill_(1.0)
                m.bias.zero_()
    pools = probe.modules_of((nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool1d), net)
    tap = pools[-1] if pools else probe.modules_of((nn.Linear,), net)[-1]
    feats: list[torch.Tensor] = []
    shape = probe.inputs.shape
    x = torch.randn(shape, generator=gen).to(probe.inputs.device)
    eps = torch.randn(shape, generator=gen).to(probe.inputs.device)
    net.train()
    with probe.hooks([tap], lambda _m, inp, _o: feats.append(inp[0].detach())), torch.no_grad():
        net(x)
        net(x + ZEN_GAMMA * eps)
    diff = (feats[0] - feats[1]).abs().reshape(shape[0], -1).sum(1).mean()
    means = [m.running_var.mean().double() for m in net.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None]
    values = torch.stack([diff.double(), *means]).tolist()  # one transfer to the host
    bn = sum(math.log(math.sqrt(v)) for v in values[1:])
    return values[0], float(bn)


@register_artifact("dss_terms")
def dss_terms(probe: Probe) -> tuple[float, float]:
    """TF-TAS on the linearised float64 copy (|θ|, norms kept, eval), R = 1ᵀ f(𝟙): (Σ over Linear
    layers inside attention modules of ‖∂R/∂W‖_* ‖W‖_*, Σ over the other Conv/Linear of |W ⊙ ∂R/∂W|)."""
    net = linearised_copy(probe.model, drop_norms=False)
    attn = {m for mod in net.modules() if "attention" in type(mod).__name__.lower()
            for m in mod.modules()}
    x = torch.ones((1, *probe.inputs.shape[1:]), dtype=torch.float64, device=probe.inputs.device)
    with torch.enable_grad():
        net(x).sum().backward()
    terms: list[torch.Tensor | None] = []
    pairs: list[torch.Tensor] = []  # per attention Linear: its gradient and its weight (nuclear norms, by shape)
    for m in net.modules():
        weight = m.weight if isinstance(m, WEIGHT_TYPES) else None
        if not isinstance(weight, torch.Tensor) or weight.grad is None:
            continue
        w, g = weight.detach(), weight.grad
        if m in attn and isinstance(m, nn.Linear):
            terms.append(None)
            pairs += [g, w]
        else:
            terms.append((w * g).abs().sum())
    nuc = iter(by_shape(lambda x: torch.linalg.matrix_norm(x, "nuc"), pairs))
    values = [t if t is not None else next(nuc) * next(nuc) for t in terms]
    msa, mlp = 0.0, 0.0
    for v, t in zip(torch.stack(values).tolist() if values else [], terms, strict=True):  # one transfer
        if t is None:
            msa += v
        else:
            mlp += v
    return msa, mlp


def _weights(probe: Probe) -> list[torch.Tensor]:
    return [w.detach().flatten() for w in probe.weights]


@register_proxy("snip", needs=("full_grads", "weights"))
def snip(probe: Probe) -> float:
    """Σ |g ⊙ θ|. Reference: Lee et al., ICLR 2019 (SNIP); foresight ``snip.py``."""
    return float(sum((g[0] * w).abs().sum() for g, w in zip(probe.full_grads, _weights(probe), strict=True)))


@register_proxy("plain", needs=("full_grads", "weights"))
def plain(probe: Probe) -> float:
    """Σ g ⊙ θ (no absolute value). Reference: Mozer & Smolensky 1989; foresight ``plain.py``."""
    return float(sum((g[0] * w).sum() for g, w in zip(probe.full_grads, _weights(probe), strict=True)))


@register_proxy("grad_norm", needs=("full_grads",))
def grad_norm(probe: Probe) -> float:
    """Σ_layers ‖g_l‖₂. Reference: Abdelfattah et al., ICLR 2021; foresight ``grad_norm.py``."""
    return float(sum(g[0].norm() for g in probe.full_grads))


@register_proxy("l2_norm", needs=("weights",))
def l2_norm(probe: Probe) -> float:
    """Σ_layers ‖θ_l‖₂ (data-free). Reference: NAS-Bench-Suite-Zero ``l2_norm``."""
    return float(sum(w.norm() for w in _weights(probe)))


@register_proxy("grasp", needs=("hessian_grad", "weights"))
def grasp(probe: Probe) -> float:
    """Σ −θ ⊙ (H g), H the loss Hessian (double backprop). Reference: Wang et al., ICLR 2020
    (GraSP); foresight ``grasp.py`` (the sign is the zero-cost one: higher = better)."""
    return float(sum((-w * hg).sum() for w, hg in zip(_weights(probe), probe.hessian_grad, strict=True)))


@register_proxy("fisher", needs=("layer_fisher", "weights"), version=3)
def fisher(probe: Probe) -> float:
    """Σ_layers fan_in · Σ_channels ½ mean_n (Σ_spatial a ⊙ ∂L/∂a)², a = each Conv/Linear output.
    The fan-in factor (numel of a channel's weights) is foresight's ``reshape_elements``: each
    channel's value is broadcast to every weight of that channel before the sum (v3; v2 summed
    channels, ρ 0.90 with Suite-Zero's scores; v1 squared the sample mean).
    Reference: Theis et al. 2018; Turner et al., ICLR 2020 (BlockSwap); foresight/NASLib ``fisher.py``."""
    return float(sum(f * w[0].numel() for f, w in zip(probe.layer_fisher, probe.weights, strict=True)))


@register_proxy("synflow", needs=("synflow_terms",))
def synflow(probe: Probe) -> float:
    """log Σ |θ ⊙ ∂R/∂θ|, R = 1ᵀ f(𝟙) on a float64 copy with |θ| and no normalisation layers.
    Reference: Tanaka et al., NeurIPS 2020 (SynFlow); foresight ``synflow.py``; NASLib's log."""
    total = sum(synflow_terms(probe))
    return math.log(total) if total > 0 else -math.inf


def _corrcoef(j: torch.Tensor) -> torch.Tensor | None:
    """corrcoef of the rows of ``j`` in float64; None where it is undefined (a row of zero variance,
    e.g. every row of an input-independent network: the references' NaN)."""
    c = torch.corrcoef(j.double())
    return None if bool(torch.isnan(c).any()) else c


@register_proxy("jacov", needs=("input_grad",), version=2, check=lambda p: require(p["k"] > 0, f"k={p['k']} must be > 0"))
def jacov(probe: Probe, k: float = 1e-5) -> float:
    """−Σ_i (log(λ_i + k) + 1/(λ_i + k)), λ the eigenvalues of corrcoef(J), J the per-sample input
    gradients; NaN where a sample's gradient is constant (the reference's failed ``eig``, NASLib's −1e8).
    Reference: Mellor et al., arXiv 2006.04647 v1 (jacob_cov); NASLib ``jacov.py``."""
    c = _corrcoef(probe.input_grad)
    if c is None:
        return math.nan
    lam = torch.linalg.eigvalsh(c)
    return float(-(torch.log(lam + k) + 1.0 / (lam + k)).sum())


@register_proxy("epe_nas", needs=("input_grad",), version=2, check=lambda p: require(p["k"] > 0, f"k={p['k']} must be > 0"))
def epe_nas(probe: Probe, k: float = 1e-5) -> float:
    """Σ_c |Σ log(|corr(J_c)| + k)| over classes c of the batch (J_c: input gradients of class-c
    samples); NaN where a correlation is undefined, as the reference (v1 zeroed it, which ranked
    input-independent networks best). Reference: Lopes et al., ICANN 2021 (EPE-NAS); NASLib ``epe_nas.py``."""
    y = probe.targets
    if y.is_floating_point() or y.dim() != 1:
        raise NotApplicable("epe_nas needs class labels; this task's targets are not 1-D integer classes")
    j = probe.input_grad
    total = 0.0
    for c in torch.unique(y):
        jc = j[y == c]
        if len(jc) < 2:
            continue
        corr = _corrcoef(jc)
        if corr is None:
            return math.nan
        total += abs(float(torch.log(corr.abs() + k).sum()))
    return total


@register_proxy("zen", needs=("zen_terms",))
def zen(probe: Probe) -> float:
    """log E‖f(x) − f(x + γε)‖₁ + Σ_BN log √mean(σ²_running) on a Gaussian re-initialised copy
    (data-free; pre-global-pooling features). Reference: Lin et al., ICCV 2021 (Zen-NAS);
    idstcv/ZenNAS ``compute_zen_score.py``; NASLib ``zen.py``."""
    diff, bn = zen_terms(probe)
    return math.log(diff) + bn if diff > 0 else -math.inf


@register_proxy("dss", needs=("dss_terms",))
def dss(probe: Probe) -> float:
    """log(Σ_MSA ‖∂R/∂W‖_* ‖W‖_* + Σ_other |W ⊙ ∂R/∂W|), R = 1ᵀ f(𝟙) on the |θ| float64 copy (norms
    kept). On CNNs there is no attention layer and DSS is a synflow that keeps BatchNorm (eval mode).
    Reference: Zhou et al., CVPR 2022 (TF-TAS DSS-indicator); AZ-NAS ``indicators/dss.py``."""
    total = sum(dss_terms(probe))
    return math.log(total) if total > 0 else -math.inf
