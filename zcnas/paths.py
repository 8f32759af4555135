"""Where zcnas finds configs: the shipped ``conf/`` and the user's own directory (a leaf module: it imports
nothing of zcnas, so every entry point and the package itself can read it without an import circle)."""

from __future__ import annotations

import os
from pathlib import Path

CONF_DIR = str(Path(__file__).resolve().parent / "conf")
"""The configs every entry point composes (absolute, so console scripts find them too): ``zcnas/conf``
links to the repository's top-level ``conf/``, where configs are edited; a wheel ships a copy."""


def user_config_dir() -> Path:
    """Your own configs, searched by Hydra after the shipped ``conf/``: ``$ZCNAS_CONFIG_DIR``, else
    ``~/.config/zcnas``. ``python -m zcnas.calibrate`` writes L-SWAG windows to its ``calibrated/``."""
    env = os.environ.get("ZCNAS_CONFIG_DIR")
    return Path(env) if env else Path.home() / ".config" / "zcnas"


def _config_search_dir() -> str:
    """``hydra.searchpath`` entry of the configs: :func:`user_config_dir` where it exists, else the
    shipped ``conf/`` again (a harmless repeat, where a missing directory would warn on every run)."""
    user = user_config_dir()
    return str(user if user.is_dir() else CONF_DIR)


def register_resolvers() -> None:
    """``${zcnas.config_search_dir:}`` for ``conf/``'s ``hydra.searchpath`` (registered once, on import of zcnas)."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    if not OmegaConf.has_resolver("zcnas.config_search_dir"):
        OmegaConf.register_new_resolver("zcnas.config_search_dir", _config_search_dir)
