"""PostgreSQL score cache (``cache.url``, issue 18 part 12): ScoreCache's get/put semantics with
upserts, a cold-vs-warm rerun, and a 4-shard sweep with one shard killed by SIGKILL and rerun:
nothing lost, nothing duplicated, nothing recomputed that was done, and the password in the URL in
no file of the sweep. Needs a server: ``ZCNAS_TEST_PG_URL`` (default ``postgresql:///zcnas_test``,
the local socket; ``.ci/postgres-up.sh`` starts one); each test works in its own schema."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from zcnas.cache import PgCache, mask_url
from zcnas.run import score_archs

from .test_run import cfg_with

URL = os.environ.get("ZCNAS_TEST_PG_URL", "postgresql:///zcnas_test")
TINY = ["space.C=4", "space.N=1", "batch_size=8", "proxy=[nwot,params]", "tracking=none", "log_every=1"]
ENV = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
pytestmark = pytest.mark.slow


def _server_error() -> str | None:
    try:
        PgCache(URL, {}, connect_timeout=3).close()
    except ValueError as err:
        return str(err)
    return None


@pytest.fixture(scope="module")
def server() -> str:
    err = _server_error()
    if err is not None:
        pytest.skip(f"no PostgreSQL at ZCNAS_TEST_PG_URL={mask_url(URL)} (start one with .ci/postgres-up.sh): {err}")
    return URL


@pytest.fixture
def pg(server: str) -> Iterator[tuple[str, object]]:
    """(URL whose search_path is a fresh schema, an engine on it); the schema is dropped afterwards."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
    engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield url, engine
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def _count(engine: object, url: str) -> tuple[int, int]:
    """(rows, distinct archs) of the scores table in ``url``'s schema."""
    import sqlalchemy as sa

    schema = url.rsplit("%3D", 1)[1]
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return tuple(conn.execute(sa.text(f"SELECT COUNT(*), COUNT(DISTINCT arch) FROM {schema}.scores")).one())


def test_get_put_upsert_semantics(pg):
    url, engine = pg
    a = PgCache(url, {"seed": 0})
    assert a.get("x", {"lswag": {"lo": 0}}) == {}
    a.put("x", {"lswag": {"lo": 0}, "nwot": {}}, {"lswag": 1.5, "nwot": math.nan})
    assert a.get("x", {"lswag": {"lo": 0}}) == {"lswag": 1.5}
    assert math.isnan(a.get("x", {"nwot": {}})["nwot"])  # NaN is remembered, not recomputed
    assert a.get("x", {"lswag": {"lo": 1}}) == {}  # other parameters: another score
    assert PgCache(url, {"seed": 1}).get("x", {"lswag": {"lo": 0}}) == {}  # other context
    a.put("x", {"lswag": {"lo": 0}}, {"lswag": 2.5})  # same key again: replaced, as INSERT OR REPLACE
    assert a.get("x", {"lswag": {"lo": 0}, "nwot": {}})["lswag"] == 2.5
    assert _count(engine, url) == (2, 1)

    def writer(k: int) -> None:  # 4 connections upsert the same 50 keys at once
        c = PgCache(url, {"seed": 0})
        for i in range(50):
            c.put(f"arch{i}", {"params": {}}, {"params": float(i + k)})
        c.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    assert _count(engine, url) == (52, 51)  # never a duplicate row
    assert a.get("arch7", {"params": {}})["params"] in {7.0, 8.0, 9.0, 10.0}
    a.close()


def test_cold_then_warm_rerun_equals(pg, tmp_path):
    url, engine = pg
    cold = score_archs(cfg_with(*TINY, "n_archs=12", f"cache.url='{url}'"), tmp_path / "cold")["summary"]
    warm = score_archs(cfg_with(*TINY, "n_archs=12", f"cache.url='{url}'"), tmp_path / "warm")["summary"]
    assert (cold["n_computed"], cold["n_cached"], warm["n_computed"], warm["n_cached"]) == (12, 0, 0, 12)
    assert (tmp_path / "cold" / "scores.csv").read_text() == (tmp_path / "warm" / "scores.csv").read_text()
    assert _count(engine, url) == (36, 12)  # nwot and params per arch, and params again under the seed-free context
    assert not (tmp_path / "zcnas_cache.db").exists() and not Path("zcnas_cache.db").exists()


def test_unreachable_server_is_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "zcnas.run", *TINY, "n_archs=2", f"hydra.run.dir={tmp_path / 'r'}",
                           "cache.url=postgresql://u:hunter2pw@127.0.0.1:1/db"], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "cache.url=postgresql://u:***@127.0.0.1:1/db: cannot use the PostgreSQL score cache" in proc.stderr
    assert "hunter2pw" not in proc.stderr + proc.stdout


def test_four_shards_sigkill_rerun_nothing_lost_duplicated_or_recomputed(pg, tmp_path, one_thread):
    url, engine = pg
    secret = "pw" + uuid.uuid4().hex[:10]  # the local socket's peer auth ignores it; it must reach no file
    url = url.replace("postgresql://", f"postgresql://{os.environ.get('USER', 'root')}:{secret}@", 1) \
        if "@" not in url else url
    sweep = [sys.executable, "-m", "zcnas.run", "-m", "shard.count=4", "shard.index=0,1,2,3", "n_archs=40",
             *TINY, f"cache.url='{url}'", "hydra.sweep.dir=sweep"]
    proc = subprocess.Popen(sweep, cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    csv = tmp_path / "sweep" / "2" / "scores.csv"
    deadline = time.time() + 400
    while time.time() < deadline and not (csv.is_file() and len(csv.read_text().splitlines()) >= 4):
        time.sleep(0.01)
    proc.kill()  # SIGKILL while shard 2 is scoring (the basic launcher runs the shards in turn)
    proc.wait()
    done = len(csv.read_text().splitlines()) - 1
    rows, archs = _count(engine, url)
    # 3 rows per arch (nwot, params, params under the seed-free context, put last: the kill may fall before it);
    # an arch's csv row is written before its cache rows: the kill may fall between them (the rerun picks it up)
    assert 3 * archs - 1 <= rows <= 3 * archs and 3 <= done < 10 and 20 + done - 1 <= archs <= 20 + done

    rerun = subprocess.run(sweep, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    shards = [json.loads((tmp_path / "sweep" / str(k) / "run_summary.json").read_text()) for k in range(4)]
    assert [s["n_cached"] for s in shards][:2] == [10, 10] and shards[3]["n_cached"] == 0
    assert shards[2]["n_cached"] == done
    assert sum(s["n_computed"] for s in shards) == 20 - done  # nothing that was done is recomputed
    assert _count(engine, url) == (120, 40)  # nothing lost, nothing duplicated

    score_archs(cfg_with(*TINY, "n_archs=40", "cache.path=full.db"), tmp_path / "full")  # unsharded, a file cache
    merged = pd.read_csv(tmp_path / "sweep" / "merged" / "scores.csv")
    assert merged["arch"].is_unique and len(merged) == 40
    assert (tmp_path / "sweep" / "merged" / "scores.csv").read_text() == (tmp_path / "full" / "scores.csv").read_text()
    leaks = [p for p in (tmp_path / "sweep").rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaks == [], f"password written to {leaks}"
    # nor the console: the sweep callback masks it before the launcher echoes each job's overrides
    said = [line for line in (rerun.stdout + rerun.stderr).splitlines() if secret in line]
    assert said == [], said
