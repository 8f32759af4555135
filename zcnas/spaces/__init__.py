"""Search spaces: frozen arch values with sample / mutate / build / encode / decode."""

from zcnas.spaces.autoformer import AutoFormerArch, AutoFormerSpace
from zcnas.spaces.darts import DartsArch, DartsSpace  # CNN spaces (issue 14)
from zcnas.spaces.nb101 import NB101Arch, NB101Space  # CNN spaces (issue 14)
from zcnas.spaces.nb201 import NB201Arch, NB201Space
from zcnas.spaces.timm_models import TimmSpace
from zcnas.spaces.tnb101 import TNB101Arch, TNB101Space  # CNN spaces (issue 14)

__all__ = ["AutoFormerArch", "AutoFormerSpace", "NB201Arch", "NB201Space", "TimmSpace"]
__all__ += ["DartsArch", "DartsSpace", "NB101Arch", "NB101Space", "TNB101Arch", "TNB101Space"]  # CNN spaces (issue 14)
