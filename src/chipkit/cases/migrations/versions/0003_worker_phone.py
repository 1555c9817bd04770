"""Workers keep the phone number the register gives (``联系电话``/``worker_phone``).

The household page shows residents their grid worker's name with a tap-to-call link; the
number is the one already printed on the door plate (public work contact, not a resident's).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "ck_workers",
        sa.Column("phone", sa.String(length=32), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("ck_workers", "phone")
