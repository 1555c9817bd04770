"""The service's storage: the cases database (chipkit.cases.Database) plus the service's own
tables, migrated by their own Alembic chain, and the database-backed rate limiter.

Everything a request needs to remember lives here (or under the configured data folder), never
only in one process's memory, so several ``chipkit serve`` processes against one PostgreSQL
database behave as one service.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from chipkit.cases import CasesError, Database
from chipkit.serve.models import throttle

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "ck_serve_alembic_version"
HEAD = "s0001"


def _current(db: Database) -> str | None:
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()


def migrate(db: Database) -> str:
    """Bring the service's tables to the newest revision (the cases schema is the caller's)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    try:
        if _current(db) == HEAD:
            return HEAD
    except OperationalError as e:
        raise CasesError(f"cannot open database: {e.orig}") from None
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.write() as conn:
        if not db.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(7316002)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return HEAD


def open_database(
    url: str | os.PathLike[str] | None, *, pool_size: int | None = None, create: bool = True
) -> Database:
    """The cases database with both schemas migrated (``pool_size``: see ``Database``;
    ``create=False``: a missing SQLite file is an error, not a new empty database)."""
    db = Database(url, pool_size=pool_size, create=create)
    migrate(db)
    return db


def digest(value: str) -> str:
    """SHA-256 hex of a secret or an identifier we must not store or log in clear."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class Throttle:
    """Fixed-window counters in the database, shared by every server process.

    ``hit(name, subject, limit, window, now)`` counts one event and says whether it is still
    within ``limit`` events per ``window`` seconds. Subjects (addresses, chip texts, user
    names) are stored as digests only.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        ins = sqlite.insert(throttle) if db.is_sqlite else postgresql.insert(throttle)
        # one atomic statement: insert the window's counter or add one to it
        self._add = (
            ins.values(key=bindparam("k"), count=1, expires_at=bindparam("e"))
            .on_conflict_do_update(
                index_elements=[throttle.c.key], set_={"count": throttle.c.count + 1}
            )
            .returning(throttle.c.count)
        )
        self._count = select(throttle.c.count).where(throttle.c.key == bindparam("k"))

    def _key(self, name: str, subject: str, window: int, now: int) -> str:
        return f"{name}:{digest(subject)[:40]}:{now // window}"

    def hit(self, name: str, subject: str, limit: int, window: int, now: int) -> bool:
        return self.add(name, subject, window, now) <= limit

    def add(self, name: str, subject: str, window: int, now: int) -> int:
        key = self._key(name, subject, window, now)
        expires = (now // window + 1) * window
        count = int(self.db.fetch(self._add, {"k": key, "e": expires}, write=True)[0]["count"])
        if count == 1 and int.from_bytes(os.urandom(1), "big") < 4:  # ~1/64: tidy up
            with self.db.write() as conn:
                conn.execute(delete(throttle).where(throttle.c.expires_at < now))
        return count

    def count(self, name: str, subject: str, window: int, now: int) -> int:
        rows = self.db.fetch(self._count, {"k": self._key(name, subject, window, now)})
        return int(rows[0]["count"]) if rows else 0

    def clear(self, name: str, subject: str, window: int, now: int) -> None:
        key = self._key(name, subject, window, now)
        with self.db.write() as conn:
            conn.execute(delete(throttle).where(throttle.c.key == key))


__all__ = ["HEAD", "Throttle", "digest", "migrate", "open_database"]
