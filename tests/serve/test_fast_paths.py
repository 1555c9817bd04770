"""The service's hot paths stay cheap without changing what they decide: one pooled database
connection per handler thread (none opened per request), one-statement reads and upserts on
the driver connection, and the routers' order (hottest first) changes no route's meaning."""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import bindparam, event, func, select

import chipkit.serve
from chipkit.cases import CasesError
from chipkit.serve.models import throttle
from chipkit.serve.store import Throttle, open_database


def test_pool_holds_one_connection_per_thread(tmp_path: Path) -> None:
    """A server's handler threads live long: however many requests they serve, the
    connections opened stay within the pool's plus one of each thread's own for fetch
    (SQLite), instead of growing with the requests."""
    from concurrent.futures import ThreadPoolExecutor

    db = open_database(tmp_path / "c.sqlite", pool_size=12)
    opened = []
    event.listen(db.engine, "connect", lambda *a: opened.append(1))
    gate = threading.Barrier(12)

    def work() -> None:
        gate.wait()
        for _ in range(5):
            with db.read() as conn:
                conn.execute(select(throttle.c.key)).all()
            db.fetch(_COUNT, {"k": "x"})

    rounds = []
    with ThreadPoolExecutor(12) as pool:
        for _ in range(5):  # 12 threads at once, five times (300 transactions, 300 fetches)
            for f in [pool.submit(work) for _ in range(12)]:
                f.result()
            rounds.append(len(opened))
    assert rounds[-1] <= 12 + 12, rounds
    db.dispose()


def test_fetch_connections_of_ended_threads_are_closed(tmp_path: Path) -> None:
    db = open_database(tmp_path / "c.sqlite")
    for _ in range(5):
        t = threading.Thread(target=db.fetch, args=(_COUNT, {"k": "x"}))
        t.start()
        t.join()
    db.fetch(_COUNT, {"k": "x"})  # a new thread's connection tidies the ended ones away
    assert len(db._own) == 1
    db.dispose()
    assert db._own == []


_COUNT = select(throttle.c.count).where(throttle.c.key == bindparam("k"))


def test_fetch_reads_writes_and_reports_errors(tmp_path: Path) -> None:
    db = open_database(tmp_path / "c.sqlite")
    t = Throttle(db)
    assert [t.add("n", "10.0.0.1", 60, 1000) for _ in range(3)] == [1, 2, 3]
    assert t.count("n", "10.0.0.1", 60, 1000) == 3
    assert t.count("n", "10.0.0.2", 60, 1000) == 0
    assert t.hit("n", "10.0.0.1", 4, 60, 1000) and not t.hit("n", "10.0.0.1", 4, 60, 1000)
    # committed: another connection (a read transaction) sees the counter
    with db.read() as conn:
        assert conn.execute(select(throttle.c.count)).scalar_one() == 5
    bad = (
        select(throttle.c.count)
        .where(throttle.c.key == bindparam("k"))
        .where(throttle.c.count > bindparam("missing_table_check"))
    )
    with db.write() as conn:
        conn.exec_driver_sql("DROP TABLE ck_serve_throttle")
    with pytest.raises(CasesError, match="database error"):
        db.fetch(bad, {"k": "x", "missing_table_check": 0})
    db.dispose()


def test_router_order_changes_no_route() -> None:
    """app.py includes the hottest routers first (the resident pages, then the API); no path
    of one router is also matched by a route of another, so the order decides nothing."""
    mods = [
        importlib.import_module(f"chipkit.serve.{m.name}")
        for m in pkgutil.iter_modules(chipkit.serve.__path__)
        if m.name.startswith("api_") or m.name == "open311"
    ]
    assert len(mods) >= 7
    from chipkit.serve import pages

    routes = [(m.__name__, r) for m in mods for r in m.router.routes]
    routes += [("pages.resident", r) for r in pages.resident_router.routes]
    for name_a, a in routes:
        for name_b, b in routes:
            if name_a == name_b or not (set(a.methods) & set(b.methods)):  # type: ignore[attr-defined]
                continue
            sample = re.sub(r"\{[^}]+\}", "1", b.path)  # type: ignore[attr-defined]
            assert not a.path_regex.match(sample), (a.path, b.path)  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_postgres_fetch_autocommit_and_stale_connection_replaced(pg_db_url, monkeypatch) -> None:
    """On PostgreSQL the one-statement path commits by itself (another connection sees the
    counter at once), and a pooled connection the server dropped while idle is replaced
    at checkout instead of failing the request (no ping on a busy pool)."""
    import psycopg

    from chipkit.cases import db as dbmod

    db = open_database(pg_db_url, pool_size=2)
    t = Throttle(db)
    assert t.add("n", "a", 60, 1000) == 1
    with psycopg.connect(pg_db_url) as c:
        assert c.execute("SELECT count FROM ck_serve_throttle").fetchone() == (1,)
    pings: list[int] = []
    dialect = type(db.engine.dialect)
    monkeypatch.setattr(dialect, "do_ping", lambda self, c: pings.append(1) or True)
    for _ in range(20):  # a busy pool is not pinged at every checkout (a round trip each)
        t.count("n", "a", 60, 1000)
        with db.read() as conn:
            conn.execute(select(throttle.c.count)).all()
    assert not pings
    monkeypatch.undo()
    pids = {r["pid"] for r in db.fetch(select(func.pg_backend_pid().label("pid")), {})}
    with psycopg.connect(pg_db_url, autocommit=True) as c:
        for pid in pids:
            c.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_S", 0.0)
    assert t.count("n", "a", 60, 1000) == 1  # a new connection, not an error
    with db.read() as conn:
        assert conn.execute(select(throttle.c.count)).scalar_one() == 1
    db.dispose()
