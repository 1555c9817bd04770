"""SQLite writers of one database queue on a lock instead of polling: threads on a lock in
the process, processes on flock(2) of ``<database>.wlock`` (chipkit.cases.db.WriteQueue)."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from chipkit.cases import Database

HOLD = """
import sys, time
from chipkit.cases import Database
db = Database(sys.argv[1])
with db._writing:
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
db.dispose()
"""


@pytest.mark.skipif(
    sys.platform == "win32", reason="flock(2) is POSIX; Windows keeps SQLite's retries"
)
def test_a_write_waits_for_another_process_then_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    db = Database(path)
    lock = Path(str(path) + ".wlock")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), "1.0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with db.write() as conn:  # the other process holds no SQLite lock, only the queue
            conn.execute(text("INSERT INTO t VALUES (1)"))
        waited = time.monotonic() - t0
    finally:
        holder.wait(10)
    assert waited > 0.5, waited
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    db.dispose()


def test_threads_queue_and_nested_writes_keep_the_lock(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                with db.write() as conn:
                    conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": i * 100 + j})
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    with db._writing:  # re-entered by the same thread (a write inside a write's lock)
        with db._writing:
            pass
        assert db._writing._depth == 1
    assert db._writing._depth == 0
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 160
    db.dispose()
