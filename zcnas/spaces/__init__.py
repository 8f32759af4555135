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
