"""Search spaces: frozen arch values with sample / mutate / build / encode / decode."""

from zcnas.spaces.nb201 import NB201Arch, NB201Space

__all__ = ["NB201Arch", "NB201Space"]
