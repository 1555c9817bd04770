"""The service's own tables (SQLAlchemy Core), beside the cases tables in the same database.

They have their own Alembic chain (``migrations/``, version table ``ck_serve_alembic_version``)
so the cases schema and the service schema migrate independently. Times are integer Unix
seconds (UTC). Secrets are never stored in clear: passwords and PINs as Argon2id hashes,
session ids and API tokens as SHA-256 digests of 256-bit random values.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: staff roles: a grid worker, officers of a village/town/district, a village clerk, an admin
ROLES = ("grid", "village", "town", "district", "clerk", "admin")

users = Table(
    "ck_serve_users",
    metadata,
    Column("username", String(80), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("worker_id", String(64), nullable=True),  # ck_workers.id for grid workers/officers
    Column("unit_id", String(64), nullable=True),  # the unit the role applies to
    Column("display_name", String(200), nullable=False, default=""),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", BigInteger, nullable=False),
    Column("password_changed_at", BigInteger, nullable=False),
)

sessions = Table(
    "ck_serve_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie value
    Column("kind", String(16), nullable=False),  # staff | household
    Column("username", String(80), nullable=True),
    Column("household_id", String(32), nullable=True),
    Column("credential", String(16), nullable=True),  # household: chip | household
    Column("chip", Text, nullable=True),  # household: the chip text it was opened with
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_ck_serve_sessions_user", "username"),
    Index("ix_ck_serve_sessions_expires", "expires_at"),
)

api_tokens = Table(
    "ck_serve_api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # staff | device
    Column("username", String(80), nullable=True),
    Column("household_id", String(32), nullable=True),
    Column("label", String(200), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_ck_serve_tokens_user", "username"),
)

throttle = Table(
    "ck_serve_throttle",
    metadata,
    Column("key", String(120), primary_key=True),  # name:subject-digest:window
    Column("count", Integer, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_ck_serve_throttle_expires", "expires_at"),
)

household_pins = Table(
    "ck_serve_household_pins",
    metadata,
    Column("household_id", String(32), primary_key=True),
    Column("pin_hash", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

jobs = Table(
    "ck_serve_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("owner", String(80), nullable=False),
    Column("state", String(16), nullable=False),  # queued | running | done | failed
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("params", Text, nullable=False, default="{}"),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

uploads = Table(
    "ck_serve_uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(80), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
