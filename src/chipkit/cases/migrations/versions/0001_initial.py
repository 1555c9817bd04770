"""Initial cases schema: units, workers, households, case types, cases, ratings, visits,
notices, and the hash-chained audit events.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ck_audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "ck_case_types",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("accept_secs", sa.Integer(), nullable=False),
        sa.Column("resolve_secs", sa.Integer(), nullable=False),
        sa.Column("rating_secs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "ck_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_ck_events_case", "ck_events", ["case_id"], unique=False)
    op.create_table(
        "ck_units",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["ck_units.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ck_units_parent", "ck_units", ["parent_id"], unique=False)
    op.create_table(
        "ck_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("posted_by", sa.String(length=64), nullable=False),
        sa.Column("posted_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["ck_units.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ck_notices_unit", "ck_notices", ["unit_id"], unique=False)
    op.create_table(
        "ck_workers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["ck_units.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ck_workers_unit", "ck_workers", ["unit_id"], unique=False)
    op.create_table(
        "ck_households",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["ck_units.id"],
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["ck_units.id"],
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["ck_workers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ck_households_grid", "ck_households", ["grid_id"], unique=False)
    op.create_index("ix_ck_households_worker", "ck_households", ["worker_id"], unique=False)
    op.create_table(
        "ck_cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.String(length=32), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=False),
        sa.Column("town_id", sa.String(length=64), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("chip_serial", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("accept_secs", sa.BigInteger(), nullable=True),
        sa.Column("resolve_secs", sa.BigInteger(), nullable=True),
        sa.Column("paused_secs", sa.BigInteger(), nullable=False),
        sa.Column("paused_since", sa.BigInteger(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("ever_resolved", sa.Boolean(), nullable=False),
        sa.Column("breach_accept", sa.Boolean(), nullable=False),
        sa.Column("breach_resolve", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("solved", sa.Boolean(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("reject_reason", sa.String(length=32), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["ck_households.id"],
        ),
        sa.ForeignKeyConstraint(
            ["type"],
            ["ck_case_types.code"],
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["ck_workers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_ck_cases_district_created", "ck_cases", ["district_id", "created_at"], unique=False
    )
    op.create_index("ix_ck_cases_household", "ck_cases", ["household_id"], unique=False)
    op.create_index("ix_ck_cases_state", "ck_cases", ["state"], unique=False)
    op.create_index("ix_ck_cases_town_created", "ck_cases", ["town_id", "created_at"], unique=False)
    op.create_index(
        "ix_ck_cases_village_created", "ck_cases", ["village_id", "created_at"], unique=False
    )
    op.create_index("ix_ck_cases_worker", "ck_cases", ["worker_id", "state"], unique=False)
    op.create_table(
        "ck_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.String(length=32), nullable=False),
        sa.Column("grid_id", sa.String(length=64), nullable=False),
        sa.Column("village_id", sa.String(length=64), nullable=False),
        sa.Column("town_id", sa.String(length=64), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("photo_sha256", sa.String(length=64), nullable=True),
        sa.Column("chip_serial", sa.BigInteger(), nullable=True),
        sa.Column("flags", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["ck_households.id"],
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["ck_workers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ck_visits_at", "ck_visits", ["at"], unique=False)
    op.create_index("ix_ck_visits_household_at", "ck_visits", ["household_id", "at"], unique=False)
    op.create_index("ix_ck_visits_photo", "ck_visits", ["photo_sha256"], unique=False)
    op.create_index("ix_ck_visits_worker_at", "ck_visits", ["worker_id", "at"], unique=False)
    op.create_table(
        "ck_ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.String(length=32), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("solved", sa.Boolean(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["ck_cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ck_ratings_case", "ck_ratings", ["case_id"], unique=False)
    _seed()


def _seed() -> None:
    head = sa.table("ck_audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"))
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    types = sa.table(
        "ck_case_types",
        sa.column("code"),
        sa.column("name"),
        sa.column("accept_secs"),
        sa.column("resolve_secs"),
        sa.column("rating_secs"),
    )
    hour, day = 3600, 86400
    op.bulk_insert(
        types,
        [
            {
                "code": "proxy",
                "name": "代办 proxy service",
                "accept_secs": day,
                "resolve_secs": 7 * day,
                "rating_secs": 7 * day,
            },
            {
                "code": "dispute",
                "name": "纠纷调解 dispute mediation",
                "accept_secs": day,
                "resolve_secs": 15 * day,
                "rating_secs": 7 * day,
            },
            {
                "code": "hazard",
                "name": "隐患 hazard",
                "accept_secs": 2 * hour,
                "resolve_secs": 3 * day,
                "rating_secs": 7 * day,
            },
            {
                "code": "event",
                "name": "事件上报 event report",
                "accept_secs": 4 * hour,
                "resolve_secs": 5 * day,
                "rating_secs": 7 * day,
            },
            {
                "code": "other",
                "name": "其他 other",
                "accept_secs": 2 * day,
                "resolve_secs": 10 * day,
                "rating_secs": 7 * day,
            },
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_ck_ratings_case", table_name="ck_ratings")
    op.drop_table("ck_ratings")
    op.drop_index("ix_ck_visits_worker_at", table_name="ck_visits")
    op.drop_index("ix_ck_visits_photo", table_name="ck_visits")
    op.drop_index("ix_ck_visits_household_at", table_name="ck_visits")
    op.drop_index("ix_ck_visits_at", table_name="ck_visits")
    op.drop_table("ck_visits")
    op.drop_index("ix_ck_cases_worker", table_name="ck_cases")
    op.drop_index("ix_ck_cases_village_created", table_name="ck_cases")
    op.drop_index("ix_ck_cases_town_created", table_name="ck_cases")
    op.drop_index("ix_ck_cases_state", table_name="ck_cases")
    op.drop_index("ix_ck_cases_household", table_name="ck_cases")
    op.drop_index("ix_ck_cases_district_created", table_name="ck_cases")
    op.drop_table("ck_cases")
    op.drop_index("ix_ck_households_worker", table_name="ck_households")
    op.drop_index("ix_ck_households_grid", table_name="ck_households")
    op.drop_table("ck_households")
    op.drop_index("ix_ck_workers_unit", table_name="ck_workers")
    op.drop_table("ck_workers")
    op.drop_index("ix_ck_notices_unit", table_name="ck_notices")
    op.drop_table("ck_notices")
    op.drop_index("ix_ck_units_parent", table_name="ck_units")
    op.drop_table("ck_units")
    op.drop_index("ix_ck_events_case", table_name="ck_events")
    op.drop_table("ck_events")
    op.drop_table("ck_case_types")
    op.drop_table("ck_audit_head")
