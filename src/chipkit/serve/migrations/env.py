"""Alembic environment for the service's own tables, run programmatically by
chipkit.serve.store (the caller passes a connection in ``config.attributes``)."""

from __future__ import annotations

from alembic import context

from chipkit.serve.models import metadata

VERSION_TABLE = "ck_serve_alembic_version"

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
