"""Any timm architecture, by name: rank hand-picked networks at random init (no ground truth).

``space=timm space.models=[vit_tiny_patch16_224,resnet18]`` builds each model with
``timm.create_model(name, pretrained=False, num_classes=...)``; nothing is downloaded.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from torch import nn


@dataclass(frozen=True)
class TimmSpace:
    """A finite space of named timm models; the arch string is the model name."""

    supernet_shape: ClassVar[tuple[int, int, int] | None] = None  # no supernet: search=prune does not apply
    models: tuple[str, ...] = field(default_factory=lambda: ("vit_tiny_patch16_224", "resnet18"))
    img_size: int | None = None
    name: str = "timm"

    def __post_init__(self) -> None:
        from zcnas.cli import need  # noqa: PLC0415

        need("timm", "vit", "space=timm")
        import timm  # noqa: PLC0415

        object.__setattr__(self, "models", tuple(self.models))
        known = set(timm.list_models())
        for m in self.models:
            if m not in known:
                close = difflib.get_close_matches(m, known, n=5, cutoff=0.6)
                raise ValueError(f"unknown timm model {m!r}; close matches: {close or 'none'} "
                                 "(see timm.list_models())")

    def __len__(self) -> int:
        return len(self.models)

    def sample(self, n: int, rng: np.random.Generator) -> list[str]:
        """The first ``n`` listed models (the list is the user's choice; ``rng`` is unused)."""
        if n > len(self.models):
            raise ValueError(f"n_archs={n} exceeds the {len(self.models)} models listed in space.models")
        return list(self.models[:n])

    def encode(self, arch: str) -> str:
        """The model name."""
        return arch

    def decode(self, text: str) -> str:
        """Check that ``text`` is one of the listed models."""
        if text not in self.models:
            raise ValueError(f"timm model {text!r} is not in space.models {list(self.models)}")
        return text

    def build(self, arch: str, num_classes: int = 1000) -> nn.Module:
        """``timm.create_model(arch, pretrained=False, num_classes=num_classes)``."""
        import timm  # noqa: PLC0415

        kwargs: dict[str, Any] = {"img_size": self.img_size} if self.img_size else {}
        return timm.create_model(arch, pretrained=False, num_classes=num_classes, **kwargs)
