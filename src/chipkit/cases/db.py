"""Opening a cases database: SQLite file (embedded default) or PostgreSQL URL.

Migrations (Alembic, shipped in ``migrations/``) are applied on open. Every write runs
in one transaction; on SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so that
writers queue on the database lock instead of failing half-way, and on PostgreSQL the
audit chain head is taken ``FOR UPDATE``. Either way two racing writers are serialised and
the conditional ``UPDATE ... WHERE version = :seen`` lets exactly one of them win.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.sql.expression import Executable

from chipkit.cases.errors import CasesError

try:
    import fcntl
except ImportError:  # Windows: SQLite's own retries between processes
    fcntl = None  # type: ignore[assignment]

DEFAULT_SQLITE = "chipkit-cases.sqlite"
MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "ck_alembic_version"
HEAD = "0003"
SQLITE_MAGIC = b"SQLite format 3\x00"


def normalise_url(url: str | os.PathLike[str] | None) -> str:
    """A URL or a plain file path -> an SQLAlchemy URL (psycopg 3 for PostgreSQL)."""
    if url is None or str(url) == "":
        url = os.environ.get("CHIPKIT_DB") or DEFAULT_SQLITE
    s = str(url)
    if "://" not in s:
        return "sqlite:///" + str(Path(s).expanduser().absolute())
    if s.startswith("postgres://"):
        s = "postgresql://" + s[len("postgres://") :]
    if s.startswith("postgresql://"):
        s = "postgresql+psycopg://" + s[len("postgresql://") :]
    return s


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only used for messages
        return "<database>"


class Database:
    """An engine plus the transaction discipline every operation uses."""

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        *,
        migrate: bool = True,
        create: bool = True,
        pool_size: int | None = None,
    ) -> None:
        """Open (and migrate) a database.

        ``create=False`` refuses a SQLite file that does not exist yet (the CLI opens with it
        everywhere except ``cases import`` and ``--create``, so a mistyped ``--db`` is an
        error, not a new empty database). A new SQLite file is created mode 0600: it holds
        dispute parties, addresses and GPS positions. A file that is not an SQLite database
        (a register passed as ``--db`` by mistake) is refused with one line.
        ``pool_size``: connections kept open (a server sizes it to its handler threads, so
        no request pays for opening one; default 5 on SQLite, 10 on PostgreSQL).
        """
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self._writing: Any = (
            WriteQueue(self.url[len("sqlite:///") :]) if self.is_sqlite else nullcontext()
        )
        if self.is_sqlite:
            path = self.url[len("sqlite:///") :]
            if path and path != ":memory:" and not path.startswith("file:"):
                _prepare_sqlite_file(Path(path), create=create)
            self.engine: Engine = create_engine(
                self.url,
                connect_args={"timeout": 60, "check_same_thread": False},
                **({"pool_size": pool_size} if pool_size else {}),
            )
            _sqlite_discipline(self.engine, self._writing)
        else:
            try:
                self.engine = create_engine(self.url, pool_size=pool_size or 10)
                _ping_when_idle(self.engine)
            except Exception as e:  # noqa: BLE001 - unknown dialect / driver
                raise CasesError(f"cannot use database {redact(self.url)}: {e}") from None
        self._local = threading.local()
        self._own: list[tuple[threading.Thread, Any]] = []  # fetch connections (SQLite)
        self._own_lock = threading.Lock()
        if migrate:
            self.migrate()

    # ------------------------------------------------------------ transactions
    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on error."""
        try:
            with self._writing, self.engine.begin() as conn:
                yield conn
        except OperationalError as e:
            raise CasesError(f"database error ({redact(self.url)}): {e.orig}") from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite a deferred one, which never blocks writers)."""
        try:
            with self.engine.connect() as conn:
                opts: dict[str, object] = {"ck_read": True}
                if not self.is_sqlite:
                    opts["isolation_level"] = "REPEATABLE READ"  # one snapshot per report
                conn = conn.execution_options(**opts)
                with conn.begin():
                    yield conn
        except OperationalError as e:
            raise CasesError(f"database error ({redact(self.url)}): {e.orig}") from None

    def fetch(
        self, stmt: Executable, params: Mapping[str, Any], *, write: bool = False
    ) -> list[dict[str, Any]]:
        """Rows of ONE statement, for the hottest lookups (API token, session, rate counter):
        run on a driver connection without SQLAlchemy's per-execution machinery (a tenth of
        the cost of ``read()``/``write()``; see ``_run``). One statement is atomic and sees one
        snapshot by itself; ``write=True`` commits it (an upsert ... RETURNING). ``stmt`` (a
        module constant with ``bindparam``s named in ``params``) is compiled once per
        database; only plain column types (strings, integers) belong in it: values come
        back as the driver gives them (a boolean as 0/1 on SQLite).
        """
        sql, names, defaults = self._compiled(stmt)
        values = {**defaults, **params}
        args: Any = tuple(values[n] for n in names) if names is not None else values
        try:
            with self._writing if write else nullcontext():
                rows, cols = self._run(sql, args)
        except DatabaseError as e:
            raise CasesError(f"database error ({redact(self.url)}): {e.orig}") from None
        except Exception as e:  # the driver's own errors (no SQLAlchemy wrapping here)
            if type(e).__module__.split(".")[0] in ("sqlite3", "psycopg"):
                raise CasesError(f"database error ({redact(self.url)}): {e}") from None
            raise
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def _run(self, sql: str, args: Any) -> tuple[Sequence[Any], list[str]]:
        """One statement, committed by itself: (rows, column names). SQLite: on the thread's
        own connection; PostgreSQL: on a pooled one, in autocommit (no BEGIN/COMMIT round
        trips around it)."""
        if self.is_sqlite:
            return _execute(self._own_connection(), sql, args)
        raw = self.engine.raw_connection()
        try:
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            try:
                return _execute(raw, sql, args)
            finally:
                raw.driver_connection.autocommit = False  # type: ignore[union-attr]
        finally:
            raw.close()  # back to the pool

    def _own_connection(self) -> Any:
        """SQLite: this thread's own driver connection for ``fetch`` (set up by the pool, then
        detached from it), so the hottest lookups skip the pool's checkout and checkin. Closed
        by ``dispose()``."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            fairy = self.engine.raw_connection()
            conn = fairy.dbapi_connection
            fairy.detach()
            self._local.conn = conn
            with self._own_lock:  # and close those of threads that have ended
                ended = [c for t, c in self._own if not t.is_alive()]
                self._own = [(t, c) for t, c in self._own if t.is_alive()]
                self._own.append((threading.current_thread(), conn))
            for c in ended:
                c.close()
        return conn

    def _compiled(self, stmt: Executable) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        cache: dict[int, Any] = self.__dict__.setdefault("_fetch_sql", {})
        hit = cache.get(id(stmt))
        if hit is None or hit[0] is not stmt:
            c = stmt.compile(dialect=self.engine.dialect)  # type: ignore[attr-defined]
            names = tuple(c.positiontup or ()) if c.positional else None
            hit = cache[id(stmt)] = (stmt, c.string, names, dict(c.params))
        return hit[1], hit[2], hit[3]

    # ------------------------------------------------------------ schema
    def migrate(self) -> str:
        """Bring the schema to the newest revision; returns the revision."""
        from alembic import command
        from alembic.config import Config
        from alembic.migration import MigrationContext

        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(
                    conn, opts={"version_table": VERSION_TABLE}
                ).get_current_revision()
        except DatabaseError as e:
            raise CasesError(f"cannot open database {redact(self.url)}: {e.orig}") from None
        if current == HEAD:
            return current
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.write() as conn:
            if not self.is_sqlite:
                # two servers opening a fresh database at once: one migrates, one waits
                conn.execute(text("SELECT pg_advisory_xact_lock(7316001)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return HEAD

    def revision(self) -> str | None:
        from alembic.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE}
            ).get_current_revision()

    def dispose(self) -> None:
        if isinstance(self._writing, WriteQueue):
            self._writing.close()
        with self._own_lock:
            own, self._own = self._own, []
            self._local = threading.local()
        for _, conn in own:
            conn.close()
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Database({redact(self.url)!r})"


class WriteQueue:
    """SQLite writers of one database file wait their turn here instead of polling.

    SQLite lets one writer in at a time and makes the others retry, sleeping 1, 2, 5 ... 100
    ms between tries: under load those sleeps, not the work, made a server's slowest
    requests. Threads of a process queue on a lock; processes (several server workers, the
    CLI beside a server) on ``flock(2)`` of ``<database>.wlock``, which wakes the next
    waiter as soon as the lock is released. Only the queueing changes: SQLite's own locking
    still keeps writes correct (where ``flock`` is missing, on Windows, or the lock file
    cannot be made, processes fall back to it).
    """

    def __init__(self, path: str) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._path = path + ".wlock" if path and not path.startswith(("file:", ":memory:")) else ""
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._lock.acquire()
        self._depth += 1
        if self._depth == 1 and self._file() is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # type: ignore[arg-type]

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()

    def _file(self) -> int | None:
        if self._fd is None and self._path and fcntl is not None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self._path = ""  # a read-only folder: SQLite's own retries only
        return self._fd

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _execute(conn: Any, sql: str, args: Any) -> tuple[Sequence[Any], list[str]]:
    cur = conn.cursor()
    try:
        cur.execute(sql, args)
        cols = [d[0] for d in cur.description or ()]
        return (cur.fetchall() if cols else []), cols
    finally:
        cur.close()


def _prepare_sqlite_file(path: Path, *, create: bool) -> None:
    """Refuse a missing file (unless ``create``), a folder or a non-SQLite file; create 0600."""
    if not path.parent.is_dir():
        raise CasesError(f"{path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise CasesError(f"{path}: is a folder, not a cases database")
    if not path.exists():
        if not create:
            raise CasesError(
                f"{path}: no such cases database (create one with `chipkit cases import "
                "REGISTER --db FILE`; the `chipkit cases` commands also take --create; in "
                "Python: create=True)"
            )
        try:  # created here, owner-only, before SQLite opens it (its WAL/SHM copy the mode)
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:  # another process created it meanwhile
            pass
        return
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise CasesError(f"{path}: cannot read: {e.strerror or e}") from None
    if head and head != SQLITE_MAGIC:
        raise CasesError(f"{path}: not a cases database (not an SQLite file)")


#: A pooled PostgreSQL connection idle longer than this is checked (``SELECT 1``) before
#: use, and replaced if the server dropped it (a restart, an idle timeout). A busy pool is
#: not pinged at every checkout (``pool_pre_ping`` cost a round trip per transaction).
PING_AFTER_IDLE_S = 10.0


def _ping_when_idle(engine: Engine) -> None:
    import time

    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["ck_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, proxy):  # type: ignore[no-untyped-def]
        since = record.info.get("ck_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            dbapi_conn.rollback()
        except Exception as e:  # noqa: BLE001 - any failure: the pool opens a new connection
            raise DisconnectionError(f"stale pooled connection: {type(e).__name__}") from None


def _sqlite_discipline(engine: Engine, queue: Any) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        # switching a new file to WAL needs it to itself, and SQLite answers "database is
        # locked" at once (no retry) when several connections try together: they queue
        with queue:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache per connection
        cur.execute("PRAGMA mmap_size=1073741824")  # reports read large indexes
        cur.execute("PRAGMA wal_autocheckpoint=8192")  # fewer checkpoint fsyncs (32 MiB of WAL)
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get("ck_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def ping(db: Database) -> None:
    with db.read() as conn:
        conn.execute(text("SELECT 1"))
