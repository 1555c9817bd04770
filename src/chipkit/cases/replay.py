"""Replaying the audit events against the state tables.

The hash chain proves the events were not edited; this proves the rows reports are built
from (``ck_cases``, ``ck_ratings``, ``ck_visits``) are what the events say. Each case is
rebuilt from its ``case.submit`` event (the whole row) and the changed fields of every later
event, and compared with its row, version included; each rating event (``case.confirm``,
``case.reopen``) must have its ``ck_ratings`` row and each ``visit.checkin`` its visit.
Cases are read in id ranges, so memory stays bounded on a district of a million cases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import MISSING, fields
from typing import Any

from sqlalchemy import Connection, func, select

from chipkit.cases.models import cases, events, ratings, visits
from chipkit.cases.records import CASE_COLUMNS, Case

BATCH = 5000
MAX_REPORTED = 50
_RATING_KINDS = ("case.confirm", "case.reopen")
_DEFAULTS: dict[str, Any] = {
    f.name: None if f.default is MISSING else f.default
    for f in fields(Case)
    if f.name in CASE_COLUMNS
}
_VISIT_FIELDS = ("worker_id", "household_id", "at", "flags", "photo_sha256", "chip_serial")


def _norm(v: Any) -> Any:
    return int(v) if isinstance(v, bool) else v


def _case_problems(
    cid: int, row: dict[str, Any] | None, evs: list[Any], rates: list[Any]
) -> list[str]:
    if not evs:
        return [f"case {cid}: its row has no events (history deleted, or the row was inserted)"]
    if evs[0].kind != "case.submit":
        return [f"case {cid}: its first event is {evs[0].kind}, not case.submit"]
    if row is None:
        return [f"case {cid}: the row is missing though {len(evs)} events record it (deleted)"]
    state: dict[str, Any] = dict(_DEFAULTS)
    expected_ratings: list[tuple[Any, ...]] = []
    for e in evs:
        after = json.loads(e.after) if e.after else {}
        state.update({k: v for k, v in after.items() if k in _DEFAULTS})
        if e.kind in _RATING_KINDS:
            expected_ratings.append(
                (state["rating"], state["solved"], e.at, after.get("credential"))
            )
    out = []
    diff = [c for c in CASE_COLUMNS if c != "version" and _norm(state[c]) != _norm(row[c])]
    if diff:
        shown = ", ".join(f"{c} is {row[c]!r}, events say {state[c]!r}" for c in diff[:4])
        out.append(f"case {cid}: the row differs from its events: {shown}")
    if row["version"] != len(evs):
        out.append(
            f"case {cid}: version {row['version']} but {len(evs)} events (a change without an event)"
        )
    got = [(r.rating, r.solved, r.at, r.credential) for r in rates]
    if len(got) != len(expected_ratings):
        out.append(f"case {cid}: {len(got)} ratings rows but {len(expected_ratings)} rating events")
    else:
        for g, want in zip(got, expected_ratings, strict=True):
            if (_norm(g[0]), _norm(g[1]), g[2]) != (_norm(want[0]), _norm(want[1]), want[2]) or (
                want[3] is not None and g[3] != want[3]
            ):
                out.append(f"case {cid}: a ratings row differs from its event: {g} vs {want}")
                break
    return out


def _grouped(conn: Connection, stmt: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for r in conn.execute(stmt):
        out.setdefault(r[0], []).append(r)
    return out


def case_divergences(conn: Connection) -> Iterator[str]:
    """One message per case whose row or ratings disagree with its events."""
    top = conn.execute(select(func.max(cases.c.id))).scalar() or 0
    top_ev = conn.execute(select(func.max(events.c.case_id))).scalar() or 0
    top = max(int(top), int(top_ev))
    for lo in range(1, top + 1, BATCH):
        hi = lo + BATCH
        rows = {
            r["id"]: dict(r)
            for r in conn.execute(select(cases).where(cases.c.id >= lo, cases.c.id < hi)).mappings()
        }
        evs = _grouped(
            conn,
            select(events.c.case_id, events.c.seq, events.c.kind, events.c.at, events.c.after)
            .where(events.c.case_id >= lo, events.c.case_id < hi)
            .order_by(events.c.case_id, events.c.seq),
        )
        rates = _grouped(
            conn,
            select(
                ratings.c.case_id,
                ratings.c.rating,
                ratings.c.solved,
                ratings.c.at,
                ratings.c.credential,
            )
            .where(ratings.c.case_id >= lo, ratings.c.case_id < hi)
            .order_by(ratings.c.case_id, ratings.c.id),
        )
        for cid in sorted(set(rows) | set(evs) | set(rates)):
            yield from _case_problems(cid, rows.get(cid), evs.get(cid, []), rates.get(cid, []))


def visit_divergences(conn: Connection) -> Iterator[str]:
    """Visits whose row disagrees with its check-in event, or that have none."""
    recorded: set[int] = set()
    q = (
        select(events.c.seq, events.c.after)
        .where(events.c.case_id.is_(None), events.c.kind == "visit.checkin")
        .order_by(events.c.seq)
    )
    batch: list[dict[str, Any]] = []

    def check(batch: list[dict[str, Any]]) -> Iterator[str]:
        ids = [b["id"] for b in batch]
        got = {
            r["id"]: r for r in conn.execute(select(visits).where(visits.c.id.in_(ids))).mappings()
        }
        for b in batch:
            row = got.get(b["id"])
            if row is None:
                yield f"visit {b['id']}: the row is missing (deleted) though its check-in is recorded"
            elif any(_norm(row[f]) != _norm(b.get(f)) for f in _VISIT_FIELDS):
                yield f"visit {b['id']}: the row differs from its check-in event"

    for r in conn.execute(q):
        after = json.loads(r.after) if r.after else {}
        if "id" in after:
            recorded.add(int(after["id"]))
            batch.append(after)
        if len(batch) >= BATCH:
            yield from check(batch)
            batch = []
    if batch:
        yield from check(batch)
    n_rows = conn.execute(select(func.count()).select_from(visits)).scalar_one()
    if n_rows != len(recorded):
        for (vid,) in conn.execute(select(visits.c.id).order_by(visits.c.id)):
            if vid not in recorded:
                yield f"visit {vid}: no check-in event records it (inserted)"


def divergences(conn: Connection, limit: int = MAX_REPORTED) -> tuple[list[str], int]:
    """Up to ``limit`` messages, and how many divergences there are in all."""
    shown: list[str] = []
    n = 0
    for gen in (case_divergences(conn), visit_divergences(conn)):
        for msg in gen:
            n += 1
            if len(shown) < limit:
                shown.append(msg)
    return shown, n
