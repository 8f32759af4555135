"""Locate a shipped data file and check its SHA-256 against ``assets/MANIFEST.json``."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"


@cache
def _manifest() -> dict[str, dict[str, str]]:
    return json.loads((ASSETS / "MANIFEST.json").read_text())


def verify_file(path: Path, sha256: str) -> Path:
    """Return ``path`` if it exists and hashes to ``sha256``; else raise a one-line error."""
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} is missing (expected sha256 {sha256})")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ValueError(f"data file {path} has sha256 {digest}, expected {sha256}: "
                         "restore it from git (git checkout -- <file>)")
    return path


@cache
def asset_path(name: str) -> Path:
    """Path of the shipped file ``name`` after its checksum check (cached per process)."""
    entry = _manifest().get(name)
    if entry is None:
        raise KeyError(f"{name!r} is not a shipped data file; known: {sorted(_manifest())}")
    return verify_file(ASSETS / name, entry["sha256"])
