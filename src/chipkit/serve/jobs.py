"""Background jobs (plate issuing): the state lives in the database and the outputs on disk
under the data folder, so any server process can report a job another one runs.

A job runs in a thread of the process that accepted it and writes its progress to its row
(``done``/``total``, ``updated_at`` as a heartbeat). A job whose process died shows as
``stale`` once it has not moved for STALE_SECS; plate batches are crash-safe, so issuing
the same upload again completes it without minting a second plate.
"""

from __future__ import annotations

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

STALE_SECS = 600
Work = Callable[[Callable[[int, int], None]], dict[str, Any]]


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


def _set(db: Database, jid: str, **values: Any) -> None:
    values.setdefault("updated_at", int(time.time()))
    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == jid).values(**values))


def start(db: Database, jid: str, work: Work) -> threading.Thread:
    """Run ``work(progress)`` in a thread; its result (or error) lands in the job's row."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        t = time.monotonic()
        if t - last[0] >= 0.5 or done >= total:
            last[0] = t
            _set(db, jid, done=int(done), total=int(total))

    def run() -> None:
        _set(db, jid, state="running")
        try:
            result = work(progress)
        except Exception as e:  # noqa: BLE001 - reported in the job, not raised
            _set(db, jid, state="failed", error=f"{type(e).__name__}: {e}"[:2000])
            return
        _set(db, jid, state="done", result=json.dumps(result, ensure_ascii=False, default=str))

    th = threading.Thread(target=run, name=f"chipkit-job-{jid[:8]}", daemon=True)
    th.start()
    return th


def get(db: Database, jid: str, now: int | None = None) -> dict[str, Any]:
    with db.read() as conn:
        r = conn.execute(select(jobs).where(jobs.c.id == jid)).mappings().first()
    if r is None:
        raise NotFound(f"unknown job {jid}")
    out = dict(r)
    out["params"] = json.loads(out["params"] or "{}")
    out["result"] = json.loads(out["result"]) if out["result"] else None
    now = now if now is not None else int(time.time())
    if out["state"] in ("queued", "running") and now - out["updated_at"] > STALE_SECS:
        out["state"] = "stale"
    return out


def job_dir(data_dir: Path, jid: str) -> Path:
    return data_dir / "jobs" / jid
