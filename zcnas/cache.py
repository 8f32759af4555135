"""Persistent score cache: every proxy score is written to SQLite the moment it is computed.

A score is keyed by everything that determines it: the space and task configs, the batch size and
seed (hence the probe batch and the per-arch init), the probe settings, the device type (CPU and
CUDA scores agree only to float tolerance), the arch string, the proxy name and a hash of its
parameters, and a digest of the probe batch actually used (pixels and labels: replacing the images
under ``task.root`` gives new scores, never stale ones). Reruns read instead of recomputing; a run
killed at any point loses at most the architecture in flight. Only a file that *is* a SQLite
database and fails its integrity check is moved aside; any other unusable ``cache.path`` (a
directory, a missing folder, a foreign file) is a one-line error that touches nothing. WAL mode and a busy timeout let concurrent jobs (Slurm
arrays, submitit) share one database file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def digest(obj: Any) -> str:
    """Stable short hash of a JSON-serialisable object (sorted keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_sqlite_file(path: Path) -> bool:
    """True for a missing or empty file (SQLite creates the database) or one with SQLite's header."""
    if not path.exists() or path.stat().st_size == 0:
        return True
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


class ScoreCache:
    """SQLite-backed ``(context, arch, proxy, params) -> score`` store.

    Args:
        path: database file (created if missing).
        context: everything besides arch and proxy that the scores depend on (hashed).
    """

    def __init__(self, path: str | Path, context: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.context = digest(dict(context))
        if self.path.is_dir():
            raise ValueError(f"cache.path={path} is a directory; give a file in it, e.g. "
                             f"cache.path={self.path / 'zcnas_cache.db'} (or cache.path=null for no cache)")
        if not self.path.parent.is_dir():
            raise ValueError(f"cache.path={path}: folder {self.path.parent} does not exist; create it "
                             "or choose another cache.path")
        if not is_sqlite_file(self.path):
            raise ValueError(f"cache.path={path} exists and is not a SQLite score cache; it was left "
                             "untouched: choose another cache.path")
        try:
            self._db = self._open()
        except sqlite3.OperationalError as err:  # unwritable, locked, ...: not corruption
            raise ValueError(f"cache.path={path}: cannot open the score cache ({err}); "
                             "check its permissions or choose another cache.path") from None
        except sqlite3.DatabaseError as err:  # a SQLite file that fails its integrity check
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.path.rename(aside)
            log.warning("score cache %s is corrupted (%s); moved to %s, scores are recomputed",
                        self.path, err, aside)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS scores (context TEXT, arch TEXT, proxy TEXT, "
                       "params TEXT, value REAL, PRIMARY KEY (context, arch, proxy, params))")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get(self, arch: str, proxies: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
        """Cached scores of ``arch`` for those of ``proxies`` that have one (NaN stays NaN)."""
        out = {}
        for name, params in proxies.items():
            row = self._db.execute("SELECT value FROM scores WHERE context=? AND arch=? AND proxy=? AND params=?",
                                   (self.context, arch, name, digest(dict(params or {})))).fetchone()
            if row is not None:
                out[name] = math.nan if row[0] is None else float(row[0])
        return out

    def put(self, arch: str, proxies: Mapping[str, Mapping[str, Any]], scores: Mapping[str, float]) -> None:
        """Store ``scores`` of ``arch`` (one transaction, committed at once)."""
        rows = [(self.context, arch, n, digest(dict(proxies[n] or {})), None if math.isnan(v) else v)
                for n, v in scores.items()]
        self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


class NullCache:
    """``cache.path=null``: remembers nothing."""

    def get(self, arch: str, proxies: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
        """Nothing is cached."""
        return {}

    def put(self, arch: str, proxies: Mapping[str, Mapping[str, Any]], scores: Mapping[str, float]) -> None:
        """Discard."""

    def close(self) -> None:
        """Nothing to close."""
