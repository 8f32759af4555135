"""Search spaces: frozen arch values with sample / mutate / build / encode / decode."""

from zcnas.spaces.autoformer import AutoFormerArch, AutoFormerSpace
from zcnas.spaces.darts import DartsArch, DartsSpace
from zcnas.spaces.nb101 import NB101Arch, NB101Space
from zcnas.spaces.nb201 import NB201Arch, NB201Space
from zcnas.spaces.pit import PiTArch, PiTSpace
from zcnas.spaces.timm_models import TimmSpace
from zcnas.spaces.tnb101 import TNB101Arch, TNB101Space

__all__ = ["AutoFormerArch", "AutoFormerSpace", "DartsArch", "DartsSpace", "NB101Arch", "NB101Space", "NB201Arch",
           "NB201Space", "PiTArch", "PiTSpace", "TNB101Arch", "TNB101Space", "TimmSpace"]


# ---------------------------------------------------------------------------------------------- by name
import dataclasses as _dc
import math as _math
from collections.abc import Mapping as _Mapping
from typing import Any as _Any

SPACE_CLASSES: dict[str, type] = {c.__name__: c for c in (AutoFormerSpace, DartsSpace, NB101Space, NB201Space,
                                                          PiTSpace, TimmSpace, TNB101Space)}
"""zcnas's own spaces by class name: what a config read from a file (a run dir, a shared selection) may name."""
MAX_DIM = 65536
"""Largest integer space argument accepted (widths, depths, image sizes)."""


def space_class(target: object) -> type:
    """The zcnas space class a ``_target_`` names (``zcnas.spaces.NB201Space`` or its module path), looked up
    in :data:`SPACE_CLASSES`: nothing is imported from the string; any other value is a one-line error."""
    paths = {f"zcnas.spaces.{n}": c for n, c in SPACE_CLASSES.items()}
    paths.update({f"{c.__module__}.{n}": c for n, c in SPACE_CLASSES.items()})
    if not isinstance(target, str) or target not in paths:
        raise ValueError(f"space _target_ {str(target)[:80]!r} is not one of zcnas's spaces "
                         f"({', '.join('zcnas.spaces.' + n for n in SPACE_CLASSES)})")
    name = target.rsplit(".", 1)[-1]
    return SPACE_CLASSES[name]


def check_space_args(cls: type, args: _Mapping[str, _Any]) -> dict[str, _Any]:
    """``args`` of space ``cls`` checked before any network is built: known fields only, the space's own
    ``name`` unchanged, integers in [1, MAX_DIM], probabilities in [0, 1], short plain strings. Errors are
    one line: ``space.<arg>=<value> ...``."""
    fields = {f.name: f for f in _dc.fields(cls) if f.init}
    out = dict(args)
    for key, value in out.items():
        if key not in fields:
            raise ValueError(f"space.{key}: {cls.__name__} has no argument {key!r}; valid: {', '.join(fields)}")
        default = fields[key].default
        if key == "name":
            if value != default:
                raise ValueError(f"space.name={str(value)[:80]!r}: {cls.__name__} is named {default!r}; leave it out")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"space.{key}={value!r} must be true or false")
        elif isinstance(default, int) or (default is None and key == "img_size"):
            if value is None and default is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIM:
                raise ValueError(f"space.{key}={value!r} must be an integer in [1, {MAX_DIM}]")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (_math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"space.{key}={value!r} must be a probability in [0, 1]")
        elif isinstance(default, str):
            if not isinstance(value, str) or not value.isidentifier() or len(value) > 64:
                raise ValueError(f"space.{key}={str(value)[:80]!r} must be a short name (letters, digits, _)")
        elif key == "models":
            if not isinstance(value, list | tuple) or not value or not all(
                    isinstance(m, str) and len(m) <= 200 and m.replace(".", "_").isidentifier() for m in value):
                raise ValueError(f"space.models={str(value)[:80]}: must be a list of timm model names")
    return out


def space_from_config(config: _Mapping[str, _Any]) -> _Any:
    """A space from a config read as data (``_target_`` + arguments from a run dir or a shared file): the class
    from :func:`space_class`, the arguments from :func:`check_space_args`; never imports or calls anything else."""
    if not isinstance(config, _Mapping):
        raise ValueError(f"space config {str(config)[:80]!r} is not a mapping with a _target_")
    args = {k: v for k, v in config.items() if k != "_target_"}
    cls = space_class(config.get("_target_"))
    return cls(**check_space_args(cls, args))


__all__ += ["SPACE_CLASSES", "check_space_args", "space_class", "space_from_config"]
