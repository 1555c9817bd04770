"""The cases schema (SQLAlchemy Core). Times are integer seconds since the Unix epoch (UTC).

The migrations in ``migrations/versions`` create exactly these tables; a test checks that
the migrated schema and this metadata agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

LEVELS = ("district", "town", "village", "grid")
STAFF_ROLES = ("grid", "village", "town", "district")

units = Table(
    "ck_units",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # district | town | village | grid
    Column("name", String(200), nullable=False, default=""),
    Column("parent_id", String(64), ForeignKey("ck_units.id"), nullable=True),
    Index("ix_ck_units_parent", "parent_id"),
)

workers = Table(
    "ck_workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("role", String(16), nullable=False, default="grid"),  # grid | village | town | district
    Column("unit_id", String(64), ForeignKey("ck_units.id"), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    # the work phone the register gives (printed on plates; the household page links it)
    Column("phone", String(32), nullable=False, default="", server_default=""),
    Index("ix_ck_workers_unit", "unit_id"),
)

households = Table(
    "ck_households",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("village_id", String(64), ForeignKey("ck_units.id"), nullable=False),
    Column("grid_id", String(64), ForeignKey("ck_units.id"), nullable=False),
    Column("worker_id", String(64), ForeignKey("ck_workers.id"), nullable=True),
    Column("address", String(400), nullable=False, default=""),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Index("ix_ck_households_worker", "worker_id"),
    Index("ix_ck_households_grid", "grid_id"),
)

case_types = Table(
    "ck_case_types",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("accept_secs", Integer, nullable=False),
    Column("resolve_secs", Integer, nullable=False),
    Column("rating_secs", Integer, nullable=False),
)


def _REPORT_COLUMNS(unit: str) -> tuple[str, ...]:  # noqa: N802 - reads as a constant
    return (
        unit,
        "type",
        "state",
        "created_at",
        *(("grid_id",) if unit != "grid_id" else ()),
        "breach_accept",
        "breach_resolve",
        "ever_resolved",
        "reopen_count",
        "rating",
        "accept_secs",
        "resolve_secs",
        "resident_confirmed",
    )


cases = Table(
    "ck_cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("type", String(16), ForeignKey("ck_case_types.code"), nullable=False),
    Column("state", String(24), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("household_id", String(32), ForeignKey("ck_households.id"), nullable=False),
    Column("worker_id", String(64), ForeignKey("ck_workers.id"), nullable=True),
    Column("level", String(16), nullable=False, default="village"),
    Column("grid_id", String(64), nullable=False),
    Column("village_id", String(64), nullable=False),
    Column("town_id", String(64), nullable=False),
    Column("district_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),  # chip | worker
    Column("created_by", String(80), nullable=False),
    Column("chip_serial", BigInteger, nullable=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("details", Text, nullable=False, default="{}"),  # JSON, type-specific fields
    Column("created_at", BigInteger, nullable=False),
    Column("accepted_at", BigInteger, nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    Column("closed_at", BigInteger, nullable=True),
    Column("accept_secs", BigInteger, nullable=True),
    Column("resolve_secs", BigInteger, nullable=True),
    Column("paused_secs", BigInteger, nullable=False, default=0),
    Column("paused_since", BigInteger, nullable=True),
    Column("reopen_count", Integer, nullable=False, default=0),
    Column("ever_resolved", Boolean, nullable=False, default=False),
    Column("breach_accept", Boolean, nullable=False, default=False),
    Column("breach_resolve", Boolean, nullable=False, default=False),
    Column("rating", Integer, nullable=True),
    Column("solved", Boolean, nullable=True),
    # closed_confirmed by a rating that came with the household credential (PIN / registered
    # phone), not with the public chip alone: what reports count as resident-confirmed
    Column("resident_confirmed", Boolean, nullable=False, default=False),
    Column("resolution_note", Text, nullable=True),
    Column("evidence", Text, nullable=True),  # JSON list
    Column("reject_reason", String(32), nullable=True),
    Column("duplicate_of", Integer, nullable=True),
    Index("ix_ck_cases_state", "state"),
    Index("ix_ck_cases_household", "household_id"),
    Index("ix_ck_cases_worker_state", "worker_id", "state"),
    # Report indexes. The two covering indexes let the grouped report scan read an index in
    # grid (or worker) order without touching the table or sorting; villages, towns and the
    # district are rolled up from grids. The (unit, time, created) indexes give the nearest-
    # rank median and P90 by an ordered index walk (ORDER BY x LIMIT 1 OFFSET k).
    Index("ix_ck_cases_rep_grid", *_REPORT_COLUMNS("grid_id")),
    Index("ix_ck_cases_rep_worker", *_REPORT_COLUMNS("worker_id")),
    *[
        Index(f"ix_ck_cases_{lvl}_{m}", f"{lvl}_id", f"{m}_secs", "created_at")
        for lvl in ("village", "town", "district")
        for m in ("accept", "resolve")
    ],
)

ratings = Table(
    "ck_ratings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("ck_cases.id"), nullable=False),
    Column("household_id", String(32), nullable=False),
    Column("rating", Integer, nullable=False),
    Column("solved", Boolean, nullable=False),
    Column("at", BigInteger, nullable=False),
    # how the rater proved to be the household: household (PIN or registered phone), chip
    # (the public door chip alone), staff (entered by a worker); unknown before revision 0002
    Column("credential", String(16), nullable=False, default="unknown"),
    Index("ix_ck_ratings_case", "case_id"),
)

visits = Table(
    "ck_visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("worker_id", String(64), ForeignKey("ck_workers.id"), nullable=False),
    Column("household_id", String(32), ForeignKey("ck_households.id"), nullable=False),
    Column("grid_id", String(64), nullable=False),
    Column("village_id", String(64), nullable=False),
    Column("town_id", String(64), nullable=False),
    Column("district_id", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("accuracy", Float, nullable=True),
    Column("photo_sha256", String(64), nullable=True),
    Column("chip_serial", BigInteger, nullable=True),
    Column("flags", String(200), nullable=False, default=""),
    Index("ix_ck_visits_worker_at", "worker_id", "at"),
    Index("ix_ck_visits_household_at", "household_id", "at"),
    Index("ix_ck_visits_photo", "photo_sha256"),
    Index("ix_ck_visits_at", "at"),
    Index("ix_ck_visits_grid_hh", "grid_id", "household_id", "at"),
)

notices = Table(
    "ck_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit_id", String(64), ForeignKey("ck_units.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("posted_by", String(64), nullable=False),
    Column("posted_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("withdrawn", Boolean, nullable=False, default=False),
    Index("ix_ck_notices_unit", "unit_id"),
)

events = Table(
    "ck_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("case_id", Integer, nullable=True),
    Column("kind", String(40), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("before", Text, nullable=True),  # canonical JSON
    Column("after", Text, nullable=True),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_ck_events_case", "case_id"),
)

audit_head = Table(
    "ck_audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
