"""Background jobs (plate issuing): the state lives in the database and the outputs on disk
under the data folder, so any server process can report a job another one runs.

A job runs in a thread of the process that accepted it and holds a lease on its row: while
it runs, a heartbeat moves ``updated_at`` every HEARTBEAT_SECS (progress moves it too). A job
whose process is gone (killed, restarted) stops beating; once LEASE_SECS have passed without
a beat, any process may take it over (:func:`reclaim`, one winner) and resume it. Plate
batches are crash-safe (the batch journal and the ledger's intent records), so resuming one
completes it without minting a second plate for a household; a job that cannot be resumed
is marked ``failed`` with a message saying what to do.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from chipkit.cases import Database, NotFound
from chipkit.serve.models import jobs

HEARTBEAT_SECS = 15
LEASE_SECS = 90
#: kept for callers of the previous API: a job this long without a beat is surely stale
STALE_SECS = LEASE_SECS
Work = Callable[[Callable[[int, int], None]], dict[str, Any]]
Clock = Callable[[], int]

_live: set[str] = set()  # jobs whose thread runs in this process
_live_lock = threading.Lock()


def _wall() -> int:
    return int(time.time())


def new_job(db: Database, kind: str, owner: str, params: dict[str, Any], now: int) -> str:
    jid = secrets.token_hex(16)
    with db.write() as conn:
        conn.execute(
            insert(jobs).values(
                id=jid,
                kind=kind,
                owner=owner,
                state="queued",
                done=0,
                total=0,
                params=json.dumps(params, ensure_ascii=False),
                created_at=now,
                updated_at=now,
            )
        )
    return jid


def _set(db: Database, jid: str, now: int, **values: Any) -> None:
    values["updated_at"] = now
    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == jid).values(**values))


def running_here(jid: str) -> bool:
    with _live_lock:
        return jid in _live


def start(db: Database, jid: str, work: Work, clock: Clock = _wall) -> threading.Thread:
    """Run ``work(progress)`` in a thread; its result (or error) lands in the job's row,
    and a heartbeat keeps the job's lease while the thread lives."""
    last = [0.0]
    finished = threading.Event()

    def progress(done: int, total: int) -> None:
        t = time.monotonic()
        if t - last[0] >= 0.5 or done >= total:
            last[0] = t
            _set(db, jid, clock(), done=int(done), total=int(total))

    def beat() -> None:
        while not finished.wait(HEARTBEAT_SECS):
            with contextlib.suppress(Exception):  # the next beat retries; the lease is long
                _set(db, jid, clock())

    def run() -> None:
        with _live_lock:
            _live.add(jid)
        try:
            _set(db, jid, clock(), state="running", error=None)
            threading.Thread(target=beat, name=f"chipkit-beat-{jid[:8]}", daemon=True).start()
            try:
                result = work(progress)
            except Exception as e:  # noqa: BLE001 - reported in the job, not raised
                _set(db, jid, clock(), state="failed", error=f"{type(e).__name__}: {e}"[:2000])
                return
            text = json.dumps(result, ensure_ascii=False, default=str)
            _set(db, jid, clock(), state="done", result=text, error=None)
        finally:
            finished.set()
            with _live_lock:
                _live.discard(jid)

    th = threading.Thread(target=run, name=f"chipkit-job-{jid[:8]}", daemon=True)
    th.start()
    return th


def _row(db: Database, jid: str) -> dict[str, Any]:
    with db.read() as conn:
        r = conn.execute(select(jobs).where(jobs.c.id == jid)).mappings().first()
    if r is None:
        raise NotFound(f"unknown job {jid}")
    out = dict(r)
    out["params"] = json.loads(out["params"] or "{}")
    out["result"] = json.loads(out["result"]) if out["result"] else None
    return out


def get(db: Database, jid: str, now: int | None = None) -> dict[str, Any]:
    """The job's row; a queued or running job whose lease expired (its process is gone)
    shows as ``stale`` until a process reclaims it."""
    out = _row(db, jid)
    now = now if now is not None else _wall()
    if is_stale(out, now):
        out["state"] = "stale"
    return out


def is_stale(job: dict[str, Any], now: int) -> bool:
    return (
        job["state"] in ("queued", "running")
        and now - int(job["updated_at"]) > LEASE_SECS
        and not running_here(str(job["id"]))
    )


def stale_ids(db: Database, now: int, limit: int = 20) -> list[str]:
    """Queued or running jobs whose lease has expired (their process is gone)."""
    q = (
        select(jobs.c.id)
        .where(jobs.c.state.in_(("queued", "running")), jobs.c.updated_at < now - LEASE_SECS)
        .order_by(jobs.c.created_at)
        .limit(limit)
    )
    with db.read() as conn:
        return [str(r.id) for r in conn.execute(q) if not running_here(str(r.id))]


def reclaim(db: Database, jid: str, now: int) -> bool:
    """Take over a job whose lease expired; True for exactly one caller (across processes)."""
    if running_here(jid):
        return False
    q = (
        update(jobs)
        .where(
            jobs.c.id == jid,
            jobs.c.state.in_(("queued", "running")),
            jobs.c.updated_at < now - LEASE_SECS,
        )
        .values(state="queued", updated_at=now)
    )
    with db.write() as conn:
        return bool(conn.execute(q).rowcount == 1)


def fail(db: Database, jid: str, now: int, message: str) -> None:
    _set(db, jid, now, state="failed", error=message[:2000])


def job_dir(data_dir: Path, jid: str) -> Path:
    return data_dir / "jobs" / jid
