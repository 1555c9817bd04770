"""Alembic environment for the cases schema, run programmatically by chipkit.cases.db.

The caller passes an open SQLAlchemy connection in ``config.attributes["connection"]``;
no alembic.ini is needed.
"""

from __future__ import annotations

from alembic import context

from chipkit.cases.models import metadata

VERSION_TABLE = "ck_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url") or ""
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
