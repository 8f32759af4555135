"""Persistent score cache: every proxy score is written to SQLite the moment it is computed.

A score is keyed by everything that determines it: the space and task configs, the batch size and
seed (hence the probe batch and the per-arch init), the probe settings, the device type (CPU and
CUDA scores agree only to float tolerance), the arch string, the proxy name and a hash of its
parameters, and a digest of the probe batch actually used (pixels and labels: replacing the images
under ``task.root`` gives new scores, never stale ones). Reruns read instead of recomputing; a run
killed at any point loses at most the architecture in flight. Only a file that *is* a SQLite
database and fails its integrity check is moved aside; any other unusable ``cache.path`` (a
directory, a missing folder, a foreign file) is a one-line error that touches nothing. WAL mode and a busy timeout let concurrent jobs (Slurm
arrays, submitit) on **one host** share one database file; across hosts (a network filesystem,
where WAL is unsafe) ``cache.per_shard=true`` gives each shard its own file (:class:`ShardCache`),
or ``cache.url=postgresql://user[:password]@host[:port]/db`` keeps the scores on a PostgreSQL server
(:class:`PgCache`, SQLAlchemy + psycopg 3): same keys and get/put semantics, every ``put`` an upsert
(``INSERT ... ON CONFLICT DO UPDATE``) so concurrent shards on any number of hosts never duplicate a
row; the password is masked in every file and log line like ``tracking.uri``'s (a URL with ``?`` or
``=`` in it is quoted on the command line: ``cache.url='postgresql://...?sslmode=require'``).
The MLflow backend can live on the same server: ``createdb mlflow`` then
``tracking.uri=postgresql+psycopg://user@host/mlflow`` (name the driver: MLflow's SQLAlchemy store
defaults to psycopg2, which is not installed; it creates its tables on first use).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import re
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


SCHEMA = ["context", "arch", "proxy", "params", "value"]
"""The columns of zcnas's ``scores`` table: a SQLite file with exactly that table is a zcnas score cache."""


def foreign_database(path: Path) -> str | None:
    """Why the existing SQLite file ``path`` is not a zcnas score cache (None for a missing or empty file, a
    zcnas cache, or one too damaged to read, which the integrity check handles). Read with ``immutable=1``:
    the peek writes nothing, not even a lock or a -shm file (a database with a -wal file is read through it)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    wal = path.with_name(path.name + "-wal")
    for mode in ("mode=ro&immutable=1", "mode=ro") if wal.exists() else ("mode=ro&immutable=1",):
        try:  # with a -wal beside it, the main file alone may not show the tables yet: read it through the WAL
            db = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True)
            try:
                tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
                columns = [r[1] for r in db.execute("PRAGMA table_info(scores)")] if "scores" in tables else []
            finally:
                db.close()
        except sqlite3.DatabaseError:
            return None
        if tables == ["scores"] and columns == SCHEMA:
            return None
    return (f"it holds tables {tables[:5]} ({len(tables)} in all)" if tables != ["scores"]
            else f"its scores table has columns {columns}, not zcnas's {SCHEMA}")


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
        foreign = foreign_database(self.path)
        if foreign:
            raise ValueError(f"cache.path={path} is a SQLite database zcnas did not create ({foreign}); it was "
                             "left untouched: choose another cache.path")
        try:
            self._db = self._open()
        except sqlite3.OperationalError as err:  # unwritable, locked, ...: not corruption
            raise ValueError(f"cache.path={path}: cannot open the score cache ({err}: locked by another process, "
                             "not writable, or the disk full); free it or choose another cache.path") from None
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
        try:
            return _lookup(self._db, self.context, arch, proxies)
        except sqlite3.OperationalError as err:
            raise self._failed(err) from None

    def put(self, arch: str, proxies: Mapping[str, Mapping[str, Any]], scores: Mapping[str, float]) -> None:
        """Store ``scores`` of ``arch`` (one transaction, committed at once)."""
        try:
            self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?)",
                                 _rows(self.context, arch, proxies, scores))
        except sqlite3.OperationalError as err:
            raise self._failed(err) from None

    def _failed(self, err: sqlite3.OperationalError) -> OSError:
        """The one-line error of a cache that stopped working mid-run (locked by another process past the
        60 s busy timeout, disk full): the run stops; every arch scored so far is in its scores.csv."""
        return OSError(f"cache.path={self.path}: {err} (another process holds it locked, or the disk is full); "
                       "the archs scored so far are in this run's scores.csv; rerun when it is free, or with "
                       "cache.path=null")

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def _rows(context: str, arch: str, proxies: Mapping[str, Mapping[str, Any]],
          scores: Mapping[str, float]) -> list[tuple[str, str, str, str, float | None]]:
    """The cache rows ``(context, arch, proxy, params digest, value)`` of ``scores`` (NaN as NULL)."""
    return [(context, arch, n, digest(dict(proxies[n] or {})), None if math.isnan(v) else v)
            for n, v in scores.items()]


def _lookup(db: sqlite3.Connection, context: str, arch: str,
            proxies: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    out = {}
    for name, params in proxies.items():
        row = db.execute("SELECT value FROM scores WHERE context=? AND arch=? AND proxy=? AND params=?",
                         (context, arch, name, digest(dict(params or {})))).fetchone()
        if row is not None:
            out[name] = math.nan if row[0] is None else float(row[0])
    return out


def shard_cache_path(shared: str | Path, index: int, count: int) -> Path:
    """Shard ``index`` of ``count``'s own cache file next to the shared one (``cache.per_shard``)."""
    return Path(f"{shared}.shard{index}of{count}")


class ShardCache(ScoreCache):
    """``cache.per_shard=true``: a shard writes only its own file (one process per SQLite file, safe on
    a network filesystem) and reads through to the shared cache, opened read-only and immutable (no
    locks, no WAL shared memory). :func:`merge_shard_caches` folds the shard files into the shared
    one at the sweep's end; a rerun of a killed shard reads its own file first."""

    def __init__(self, shared: str | Path, index: int, count: int, context: Mapping[str, Any]) -> None:
        super().__init__(shard_cache_path(shared, index, count), context)
        self.shared = Path(shared)
        self._ro = (sqlite3.connect(f"file:{self.shared.resolve()}?mode=ro&immutable=1", uri=True)
                    if self.shared.is_file() and is_sqlite_file(self.shared) else None)

    def get(self, arch: str, proxies: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
        """This shard's scores first, then the shared cache's."""
        out = super().get(arch, proxies)
        if self._ro is not None and len(out) < len(proxies):
            try:
                out |= _lookup(self._ro, self.context, arch, {n: p for n, p in proxies.items() if n not in out})
            except sqlite3.DatabaseError as err:  # an empty or foreign shared file: read nothing from it
                log.warning("shared score cache %s not read (%s)", self.shared, err)
                self._ro.close()
                self._ro = None
        return out

    def close(self) -> None:
        """Close both connections."""
        super().close()
        if self._ro is not None:
            self._ro.close()


def merge_shard_caches(shared: str | Path, count: int) -> int:
    """Fold every ``<shared>.shard<k>of<count>`` file into ``shared`` (rows already there are kept:
    a score is a pure function of its key) and delete them; return the number of rows added."""
    files = sorted(Path(shared).parent.glob(f"{Path(shared).name}.shard*of{count}"))
    if not files:
        return 0
    cache = ScoreCache(shared, {})
    added = 0
    for f in files:
        foreign = foreign_database(f)
        try:
            if foreign:
                raise sqlite3.DatabaseError(f"not a zcnas score cache: {foreign}")
            cache._db.execute("ATTACH DATABASE ? AS s", (str(f),))
            try:
                added += cache._db.execute("INSERT OR IGNORE INTO scores SELECT context, arch, proxy, params, value "
                                           "FROM s.scores").rowcount
            finally:
                cache._db.execute("DETACH DATABASE s")
        except sqlite3.DatabaseError as err:  # a corrupt or foreign shard file: said, nothing deleted
            cache.close()
            raise ValueError(f"shard cache {f} cannot be read ({err}); {added} rows of the earlier shard files are "
                             f"in {shared}; move {f.name} aside (its shard's scores.csv has its scores) and merge "
                             "again") from None
    cache._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # readers opening it immutable see every row
    cache.close()
    for f in files:
        for part in (f, Path(f"{f}-wal"), Path(f"{f}-shm")):
            part.unlink(missing_ok=True)
    log.info("score cache: %d rows from %d shard files merged into %s", added, len(files), shared)
    return added


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages)."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - unparsable: mask anything between ':' and '@'
        return re.sub(r"://([^/@:]*):[^/@]*@", r"://\1:***@", url)


class PgCache:
    """``cache.url=postgresql://...``: the scores on a PostgreSQL server (SQLAlchemy, psycopg 3
    driver), for shards on several hosts. Same table, keys and semantics as :class:`ScoreCache`;
    ``put`` is an upsert (``INSERT ... ON CONFLICT DO UPDATE``, one transaction per arch), so two
    shards writing one key leave one row. The table is created on first use under an advisory lock
    (concurrent ``CREATE TABLE IF NOT EXISTS`` can otherwise race in PostgreSQL).

    Args:
        url: SQLAlchemy URL; ``postgresql://`` means ``postgresql+psycopg://``.
        context: as for :class:`ScoreCache`.
        connect_timeout: seconds to wait for the server before the run fails with a one-line error.
    """

    def __init__(self, url: str, context: Mapping[str, Any], connect_timeout: int = 10) -> None:
        import sqlalchemy as sa  # noqa: PLC0415 - only cache.url users pay the import

        self.context = digest(dict(context))
        self.url = mask_url(url)
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise ValueError(f"cache.url={self.url} is not a database URL; expected "
                             "postgresql://user[:password]@host[:port]/database") from None
        if parsed.get_backend_name() != "postgresql":
            raise ValueError(f"cache.url={self.url}: only postgresql:// is supported (a file cache is "
                             "cache.path=<file>)")
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self._sa = sa
        try:
            self._engine = sa.create_engine(parsed, pool_pre_ping=True, pool_size=1,
                                            connect_args={"connect_timeout": connect_timeout})
            with self._engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('zcnas.scores'))"))
                conn.execute(sa.text("CREATE TABLE IF NOT EXISTS scores (context TEXT, arch TEXT, proxy TEXT, "
                                     "params TEXT, value DOUBLE PRECISION, PRIMARY KEY (context, arch, proxy, params))"))
        except ModuleNotFoundError as err:
            raise ValueError(f"cache.url needs the {err.name} package: pip install 'psycopg[binary]'") from None
        except sa.exc.DBAPIError as err:
            reason = str(err.orig).strip().splitlines()[0] if err.orig is not None else type(err).__name__
            raise ValueError(f"cache.url={self.url}: cannot use the PostgreSQL score cache ({reason}); "
                             "check the server, user and database, or use cache.path=<file>") from None

    def get(self, arch: str, proxies: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
        """Cached scores of ``arch`` for those of ``proxies`` that have one (NaN stays NaN)."""
        want = {(n, digest(dict(p or {}))): n for n, p in proxies.items()}
        with self._engine.connect() as conn:
            found = conn.execute(self._sa.text("SELECT proxy, params, value FROM scores WHERE context=:c AND arch=:a"),
                                 {"c": self.context, "a": arch}).all()
        return {want[(p, d)]: math.nan if v is None else float(v) for p, d, v in found if (p, d) in want}

    def put(self, arch: str, proxies: Mapping[str, Mapping[str, Any]], scores: Mapping[str, float]) -> None:
        """Upsert ``scores`` of ``arch`` (one transaction, committed at once)."""
        rows = [dict(zip(("c", "a", "p", "d", "v"), r, strict=True)) for r in _rows(self.context, arch, proxies, scores)]
        if not rows:
            return
        with self._engine.begin() as conn:
            conn.execute(self._sa.text("INSERT INTO scores VALUES (:c, :a, :p, :d, :v) ON CONFLICT "
                                       "(context, arch, proxy, params) DO UPDATE SET value = EXCLUDED.value"), rows)

    def close(self) -> None:
        """Return the connections to the server."""
        self._engine.dispose()


class NullCache:
    """``cache.path=null``: remembers nothing."""

    def get(self, arch: str, proxies: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
        """Nothing is cached."""
        return {}

    def put(self, arch: str, proxies: Mapping[str, Mapping[str, Any]], scores: Mapping[str, float]) -> None:
        """Discard."""

    def close(self) -> None:
        """Nothing to close."""


def in_context(cache: Any, context: Mapping[str, Any]) -> Any:
    """A view of ``cache`` (same store, same connection; close the original only) under another context: the
    seed-free scores' (#params, FLOPs), keyed by space and task alone."""
    view = copy.copy(cache)
    view.context = digest(dict(context))
    return view


def open_cache(cache: Mapping[str, Any], shard: Mapping[str, int], context: dict[str, Any]) -> ScoreCache | PgCache | NullCache:
    """The score cache the run's ``cache`` node asks for: a PostgreSQL server (``cache.url``: any number of
    hosts, upserts), this shard's own SQLite file (``cache.per_shard`` and ``shard.count > 1``, merged at
    the sweep's end), one SQLite file (``cache.path``), or none."""
    if cache.get("url"):
        return PgCache(cache["url"], context)
    if cache["path"] and cache.get("per_shard") and shard["count"] > 1:
        return ShardCache(cache["path"], shard["index"], shard["count"], context)
    if cache["path"]:
        return ScoreCache(cache["path"], context)
    return NullCache()
