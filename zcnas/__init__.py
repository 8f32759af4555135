"""zcnas: zero-cost neural architecture search (L-SWAG and LIBRA-NAS, CVPR 2025).

Python API (the command-line tools are ``python -m zcnas.run`` / ``zcnas-run`` and friends)::

    import timm, torch, zcnas
    model = timm.create_model("resnet18", num_classes=10)
    x, y = zcnas.images(64)                      # 64 real CIFAR-10 test images (seed 0), or your own
    zcnas.score(model, x, y, proxies=["lswag", "nwot"])   # {"lswag": ..., "nwot": ...}
    zcnas.list_proxies()                         # every registered proxy name
    net = zcnas.network("nb201", "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
                        "|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|", seed=0)

``zcnas.network(space, arch, seed=s)`` builds the network ``python -m zcnas.run space=<space> seed=s``
scores for the arch string ``arch`` (the ``arch`` column of ``scores.csv``), with the same weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from zcnas.paths import CONF_DIR, register_resolvers, user_config_dir

if TYPE_CHECKING:
    import torch
    from torch import nn

__version__ = "0.1.0"
__all__ = ["CONF_DIR", "images", "list_proxies", "network", "score", "space_names", "user_config_dir"]


def list_proxies() -> list[str]:
    """Sorted names of every registered proxy (``zcnas.proxies``)."""
    from zcnas.proxies import list_proxies as _list  # noqa: PLC0415

    return _list()


def score(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
          proxies: Iterable[str] | Mapping[str, Mapping[str, Any]] = ("lswag",), *,
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
          share_passes: bool = False, thin: Callable[[], nn.Module] | None = None) -> dict[str, float]:
    """Zero-cost proxy scores of ``model`` (untrained, any ``nn.Module``) on one batch: ``{name: value}``.

    ``proxies``: names (each with its registered defaults) or ``{name: {param: value}}``; all share one
    :class:`~zcnas.probe.Probe`, so shared passes run once, exactly as in ``python -m zcnas.run``.
    A proxy that fails or is not finite is NaN, with the reason logged; the model is left unchanged.
    ``loss_fn`` defaults to cross-entropy; ``thin`` builds a thin copy for ``tenas_lr`` (NB201 only).
    Unknown names raise ``KeyError`` listing the valid ones; images of another size than a ViT's fixed
    ``img_size`` raise ``ValueError`` (``zcnas.images(n, resolution=224)``)."""
    import torch.nn.functional as F  # noqa: PLC0415

    _check_input_size(model, inputs)

    from zcnas.probe import Probe  # noqa: PLC0415
    from zcnas.proxies import score as _score  # noqa: PLC0415

    if isinstance(proxies, str):
        proxies = [proxies]
    wanted = ({n: dict(p or {}) for n, p in proxies.items()} if isinstance(proxies, Mapping)
              else dict.fromkeys(proxies, {}))
    probe = Probe(model, inputs, targets, loss_fn=loss_fn or F.cross_entropy, share_passes=share_passes, thin=thin)
    return _score(probe, wanted)


def _check_input_size(model: nn.Module, inputs: torch.Tensor) -> None:
    """A one-line error, not a NaN per proxy, when ``inputs`` cannot enter ``model``: a timm ViT's patch
    embedding with a fixed ``img_size`` (``strict_img_size``) fed another resolution."""
    embed = getattr(model, "patch_embed", None)
    size = getattr(embed, "img_size", None)
    if size is None or not getattr(embed, "strict_img_size", True) or tuple(inputs.shape[-2:]) == tuple(size):
        return
    got = "x".join(map(str, inputs.shape[-2:]))
    raise ValueError(f"inputs are {got} px but the model's patch embedding takes {size[0]}x{size[1]}: "
                     f"use zcnas.images(n, resolution={size[0]}) or images of that size")


def network(space: str, arch: str, num_classes: int = 10, seed: int | None = None, **options: Any) -> nn.Module:
    """The network of arch string ``arch`` in ``space`` (``nb201``, ``autoformer``, ``timm``: a timm model
    name), untrained; ``options`` go to the space (e.g. ``C=16, N=5``; ``variant="tiny"``). With
    ``seed``, initialised as ``python -m zcnas.run seed=<seed>`` initialises that arch."""
    from contextlib import nullcontext  # noqa: PLC0415

    from zcnas.probe import seeded  # noqa: PLC0415

    spaces = space_names()
    if space not in spaces:
        raise KeyError(f"unknown space {space!r}; valid: {', '.join(spaces)}")
    if space == "timm":
        options.setdefault("models", (arch,))
    sp = spaces[space](**options)
    decoded = sp.decode(arch)
    if seed is None:
        ctx: Any = nullcontext()
    else:
        from zcnas.probe import arch_seed  # noqa: PLC0415

        ctx = seeded(arch_seed(seed, sp.encode(decoded)))
    with ctx:
        return sp.build(decoded, num_classes=num_classes)


def space_names() -> dict[str, type]:
    """The spaces :func:`network` builds, by the name each declares (its ``name`` field: ``nb201``, ``darts`` ...;
    TNB101's name follows its ``variant``, so it is built through ``zcnas.spaces.TNB101Space``)."""
    import dataclasses  # noqa: PLC0415

    from zcnas.spaces import SPACE_CLASSES  # noqa: PLC0415

    named = {next((f.default for f in dataclasses.fields(c) if f.name == "name"), None): c for c in SPACE_CLASSES.values()}
    return {n: named[n] for n in sorted(k for k in named if isinstance(k, str))}


def images(n: int = 64, seed: int = 0, resolution: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` real CIFAR-10 test images (shipped), normalised, at ``resolution`` px, and their labels: the
    batch ``python -m zcnas.run batch_size=<n> seed=<seed>`` probes with (``task=cifar10_224``: 224)."""
    from zcnas.data import Task  # noqa: PLC0415

    return Task(resolution=resolution).batch(n, seed)


register_resolvers()
