"""Zero-cost proxies: one registry, one family per file. Importing registers them all.

A family file (``zcnas/proxies/<family>.py``, found here by name: no list to edit) declares the probe
artifacts it computes with :func:`register_artifact` and its proxies with :func:`register_proxy` (both in
``_registry.py``); its settings go in ``conf/proxy/<name>.yaml``. Nothing else changes.
"""

import importlib
import pkgutil

from zcnas.proxies._registry import (
    ArtifactSpec,
    NotApplicable,
    ProxySpec,
    check_params,
    closure,
    get_proxy,
    list_artifacts,
    list_proxies,
    register_artifact,
    register_proxy,
    saturated,
    score,
)

for _family in pkgutil.iter_modules(__path__):
    if not _family.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_family.name}")  # registration side effect

__all__ = ["ArtifactSpec", "NotApplicable", "ProxySpec", "check_params", "closure", "get_proxy", "list_artifacts",
           "list_proxies", "register_artifact", "register_proxy", "saturated", "score"]
