"""Search spaces: frozen arch values with sample / mutate / build / encode / decode."""

from zcnas.spaces.autoformer import AutoFormerArch, AutoFormerSpace
from zcnas.spaces.nb201 import NB201Arch, NB201Space
from zcnas.spaces.pit import PiTArch, PiTSpace
from zcnas.spaces.timm_models import TimmSpace

__all__ = ["AutoFormerArch", "AutoFormerSpace", "NB201Arch", "NB201Space", "PiTArch", "PiTSpace", "TimmSpace"]
