"""Ratings record the credential they came with; cases record resident confirmation.

``ck_ratings.credential``: household (PIN or registered phone), chip (the public door chip
alone), staff (entered by a worker); older ratings become ``unknown``. ``ck_cases.
resident_confirmed``: closed_confirmed by a household-credential rating, the only kind the
reports count as resident-confirmed. The two report covering indexes are rebuilt to hold the
new column, so reports still read only the index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_REP = (
    "type",
    "state",
    "created_at",
    "breach_accept",
    "breach_resolve",
    "ever_resolved",
    "reopen_count",
    "rating",
    "accept_secs",
    "resolve_secs",
)


def _rep_index(unit: str, *, with_flag: bool) -> list[str]:
    cols = [unit, *_REP[:3], *(("grid_id",) if unit == "worker_id" else ()), *_REP[3:]]
    return cols + (["resident_confirmed"] if with_flag else [])


def upgrade() -> None:
    op.add_column(
        "ck_ratings",
        sa.Column("credential", sa.String(length=16), nullable=False, server_default="unknown"),
    )
    op.add_column(
        "ck_cases",
        sa.Column("resident_confirmed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    for unit, name in (
        ("grid_id", "ix_ck_cases_rep_grid"),
        ("worker_id", "ix_ck_cases_rep_worker"),
    ):
        op.drop_index(name, table_name="ck_cases")
        op.create_index(name, "ck_cases", _rep_index(unit, with_flag=True), unique=False)


def downgrade() -> None:
    for unit, name in (
        ("grid_id", "ix_ck_cases_rep_grid"),
        ("worker_id", "ix_ck_cases_rep_worker"),
    ):
        op.drop_index(name, table_name="ck_cases")
        op.create_index(name, "ck_cases", _rep_index(unit, with_flag=False), unique=False)
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of ck_cases would
    # break the foreign keys that point at it
    op.drop_column("ck_cases", "resident_confirmed")
    op.drop_column("ck_ratings", "credential")
