"""zcnas: zero-cost neural architecture search (L-SWAG and LIBRA-NAS, CVPR 2025)."""

__version__ = "0.1.0"
