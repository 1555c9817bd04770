"""Staff accounts, sessions and API tokens.

Passwords and household PINs are hashed with Argon2id (argon2-cffi). Session ids and API
tokens are 256-bit random values; only their SHA-256 digests are stored, so a copy of the
database opens no session. Accounts come from the register's worker rows (a grid worker or a
village/town/district officer keeps the role and unit the register gives) or are made by hand
(clerk of a village, admin).

Changes to who can act (an account added, disabled or enabled, a password set, an API token
or a household phone registered or revoked) are events of the cases audit chain, in the same
transaction as the change, naming the actor (``user:NAME`` through the service,
``household:ID`` for a phone, ``cli:OSUSER`` from ``chipkit users``): tamper evident, and
``chipkit cases audit`` verifies them. Logins and failed logins are volume, not state: they
go to the ``chipkit.serve.security`` log only.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from chipkit.cases import BadInput, Database, NotFound, audit
from chipkit.cases.models import units, workers
from chipkit.serve.models import ROLES, api_tokens, household_pins, sessions, users
from chipkit.serve.store import digest

STAFF_SESSION_SECS = 8 * 3600
#: the audit actor of an account change made by a direct library call that names nobody
LOCAL = "system:local"
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[^\s/\\:\x00-\x1f]{1,80}$")

# every API request with a token: the token and its account in one indexed lookup
_TOKEN_USER = (
    select(
        api_tokens.c.kind,
        api_tokens.c.username,
        api_tokens.c.household_id,
        users.c.role,
        users.c.worker_id,
        users.c.unit_id,
        users.c.display_name,
        users.c.active,
    )
    .select_from(api_tokens.outerjoin(users, users.c.username == api_tokens.c.username))
    .where(api_tokens.c.token_hash == bindparam("h"), api_tokens.c.revoked_at.is_(None))
)
_NEW_SESSION = insert(sessions).values(
    {c.name: bindparam("h" if c.name == "id_hash" else c.name) for c in sessions.columns}
)
_SESSION = select(sessions).where(
    sessions.c.id_hash == bindparam("h"), sessions.c.expires_at > bindparam("now")
)

#: Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4)
DEFAULT_HASHER = PasswordHasher()


def _now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class User:
    """An authenticated staff member."""

    username: str
    role: str
    worker_id: str | None
    unit_id: str | None
    display_name: str
    active: bool

    @classmethod
    def from_row(cls, r: Any) -> User:
        return cls(r.username, r.role, r.worker_id, r.unit_id, r.display_name, bool(r.active))

    def public(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "worker_id": self.worker_id,
            "unit_id": self.unit_id,
            "display_name": self.display_name,
            "active": self.active,
        }


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise BadInput(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise BadInput("a password has at most 1024 characters")
    return password


def _role(
    conn: Connection,
    worker_id: str | None,
    role: str | None,
    unit_id: str | None,
    display_name: str,
) -> tuple[str, str | None, str]:
    """(role, unit, display name) of a new account: a register worker's from the register; a
    clerk's village checked; an admin has no unit."""
    if worker_id is not None:
        w = conn.execute(select(workers).where(workers.c.id == worker_id)).first()
        if w is None:
            raise NotFound(f"unknown worker {worker_id} (import the register first)")
        if role not in (None, w.role):
            raise BadInput(f"worker {worker_id} is a {w.role} in the register, not {role}")
        role, unit_id, display_name = w.role, w.unit_id, display_name or w.name
        taken = conn.execute(
            select(users.c.username).where(users.c.worker_id == worker_id)
        ).scalar()
        if taken is not None:
            # the audit trail names the worker: one account per worker keeps it exact
            raise BadInput(f"worker {worker_id} already has the account {taken}")
    elif role in ("clerk",):
        u = conn.execute(select(units).where(units.c.id == (unit_id or ""))).first()
        if u is None or u.kind != "village":
            raise BadInput(f"a clerk needs --unit VILLAGE (a village code), got {unit_id!r}")
    elif role == "admin":
        unit_id = None
    else:
        raise BadInput(
            f"role {role!r}: give --worker ID for grid workers and officers, "
            "or --role clerk --unit VILLAGE, or --role admin"
        )
    assert role is not None
    return role, unit_id, display_name


class Accounts:
    """Users, sessions and API tokens over one database."""

    def __init__(self, db: Database, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.hasher = hasher or DEFAULT_HASHER
        self._dummy: str | None = None

    # ------------------------------------------------------------ users
    def add(
        self,
        username: str,
        password: str,
        *,
        worker_id: str | None = None,
        role: str | None = None,
        unit_id: str | None = None,
        display_name: str = "",
        now: int | None = None,
        by: str = LOCAL,
    ) -> User:
        """A new account: for a register worker (``worker_id``; role and unit from the
        register) or a ``clerk`` of a village / an ``admin``."""
        if not _USERNAME.match(username or ""):
            raise BadInput(f"user name {username!r}: 1-80 characters, no spaces, / \\ or :")
        check_password(password)
        now = now if now is not None else _now()
        with self.db.write() as conn:
            if conn.execute(select(users.c.username).where(users.c.username == username)).first():
                raise BadInput(f"user {username} already exists")
            role, unit_id, display_name = _role(conn, worker_id, role, unit_id, display_name)
            conn.execute(
                insert(users).values(
                    username=username,
                    role=role,
                    worker_id=worker_id,
                    unit_id=unit_id,
                    display_name=display_name,
                    password_hash=self.hasher.hash(password),
                    active=True,
                    created_at=now,
                    password_changed_at=now,
                )
            )
            who = {"username": username, "role": role, "worker_id": worker_id, "unit_id": unit_id}
            audit.append(conn, "account.add", by, now, after=who)
        return self.get(username)

    def from_register(self, *, now: int | None = None, by: str = LOCAL) -> list[tuple[User, str]]:
        """An account for every active register worker that has none; returns (user, initial
        password) pairs: hand each password to its owner, who changes it."""
        with self.db.read() as conn:
            have = {r.worker_id for r in conn.execute(select(users.c.worker_id))}
            todo = [
                r
                for r in conn.execute(
                    select(workers).where(workers.c.active).order_by(workers.c.id)
                )
                if r.id not in have
            ]
        out = []
        for w in todo:
            pw = secrets.token_urlsafe(12)
            out.append((self.add(w.id, pw, worker_id=w.id, now=now, by=by), pw))
        return out

    def get(self, username: str) -> User:
        with self.db.read() as conn:
            r = conn.execute(select(users).where(users.c.username == username)).first()
        if r is None:
            raise NotFound(f"unknown user {username}")
        return User.from_row(r)

    def all(self) -> list[User]:
        with self.db.read() as conn:
            return [
                User.from_row(r) for r in conn.execute(select(users).order_by(users.c.username))
            ]

    def set_password(
        self, username: str, password: str, *, now: int | None = None, by: str = LOCAL
    ) -> None:
        """A new password; every session of the user ends."""
        check_password(password)
        now = now if now is not None else _now()
        with self.db.write() as conn:
            res = conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(password_hash=self.hasher.hash(password), password_changed_at=now)
            )
            if res.rowcount != 1:
                raise NotFound(f"unknown user {username}")
            conn.execute(delete(sessions).where(sessions.c.username == username))
            audit.append(conn, "account.password", by, now, after={"username": username})

    def set_active(
        self, username: str, active: bool, *, now: int | None = None, by: str = LOCAL
    ) -> None:
        """Disable (or re-enable) an account; disabling ends its sessions and API tokens."""
        now = now if now is not None else _now()
        with self.db.write() as conn:
            was = conn.execute(select(users.c.active).where(users.c.username == username)).first()
            if was is None:
                raise NotFound(f"unknown user {username}")
            conn.execute(update(users).where(users.c.username == username).values(active=active))
            revoked: list[int] = []
            if not active:
                conn.execute(delete(sessions).where(sessions.c.username == username))
                live = (api_tokens.c.username == username) & api_tokens.c.revoked_at.is_(None)
                revoked = [r.id for r in conn.execute(select(api_tokens.c.id).where(live))]
                conn.execute(update(api_tokens).where(live).values(revoked_at=now))
            audit.append(
                conn,
                "account.enable" if active else "account.disable",
                by,
                now,
                before={"username": username, "active": bool(was.active)},
                after={"username": username, "active": active, "tokens_revoked": revoked},
            )

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right and the account active, else None (the same
        Argon2 work is done for unknown users, so timing does not tell which)."""
        with self.db.read() as conn:
            r = conn.execute(select(users).where(users.c.username == username)).first()
        if r is None and self._dummy is None:
            # a hash to verify against when the user does not exist (same work either way)
            self._dummy = self.hasher.hash(secrets.token_hex(16))
        stored = r.password_hash if r is not None else self._dummy
        assert stored is not None
        try:
            self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if r is None or not r.active:
            return None
        if self.hasher.check_needs_rehash(stored):
            with self.db.write() as conn:
                conn.execute(
                    update(users)
                    .where(users.c.username == username)
                    .values(password_hash=self.hasher.hash(password))
                )
        return User.from_row(r)

    # ------------------------------------------------------------ sessions
    def open_session(
        self,
        kind: str,
        *,
        lifetime: int,
        username: str | None = None,
        household_id: str | None = None,
        credential: str | None = None,
        chip: str | None = None,
        now: int | None = None,
    ) -> tuple[str, str]:
        """A new session; returns (session id for the cookie, CSRF token)."""
        now = now if now is not None else _now()
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        row = {
            "h": digest(sid),
            "kind": kind,
            "username": username,
            "household_id": household_id,
            "credential": credential,
            "chip": chip,
            "csrf": csrf,
            "created_at": now,
            "expires_at": now + lifetime,
        }
        self.db.fetch(_NEW_SESSION, row, write=True)
        if int.from_bytes(secrets.token_bytes(1), "big") < 4:  # now and then: tidy up
            with self.db.write() as conn:
                conn.execute(delete(sessions).where(sessions.c.expires_at < now))
        return sid, csrf

    def session(self, sid: str, *, now: int | None = None) -> dict[str, Any] | None:
        now = now if now is not None else _now()
        rows = self.db.fetch(_SESSION, {"h": digest(sid), "now": now})
        return rows[0] if rows else None

    def upgrade_session(self, sid: str, credential: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id_hash == digest(sid))
                .values(credential=credential)
            )

    def close_session(self, sid: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(sessions).where(sessions.c.id_hash == digest(sid)))

    # ------------------------------------------------------------ API tokens
    def new_token(
        self,
        *,
        username: str | None = None,
        household_id: str | None = None,
        label: str = "",
        now: int | None = None,
        by: str = LOCAL,
    ) -> tuple[int, str]:
        """A machine-client token (for a user) or a registered phone (for a household);
        returns (id, token). Only its digest is stored: show it once."""
        now = now if now is not None else _now()
        if (username is None) == (household_id is None):
            raise BadInput("a token belongs to a user or to a household")
        if username is not None:
            self.get(username)
        tok = "ck_" + secrets.token_urlsafe(32)
        with self.db.write() as conn:
            res = conn.execute(
                insert(api_tokens).values(
                    token_hash=digest(tok),
                    kind="staff" if username else "device",
                    username=username,
                    household_id=household_id,
                    label=label[:200],
                    created_at=now,
                )
            )
            pk = res.inserted_primary_key
            assert pk is not None
            tid = int(pk[0])
            kind = "staff" if username else "device"
            what = {"id": tid, "kind": kind, "username": username, "household_id": household_id}
            audit.append(conn, "token.create", by, now, after=what | {"label": label[:200]})
        return tid, tok

    def token(self, tok: str, *, now: int | None = None) -> dict[str, Any] | None:
        now = now if now is not None else _now()
        with self.db.read() as conn:
            r = (
                conn.execute(
                    select(api_tokens).where(
                        api_tokens.c.token_hash == digest(tok), api_tokens.c.revoked_at.is_(None)
                    )
                )
                .mappings()
                .first()
            )
        return dict(r) if r is not None else None

    def token_user(self, tok: str) -> tuple[dict[str, Any], User | None] | None:
        """A live token's row (kind, username, household_id) and, for a staff token, its
        account as it is now (checked on every request: disabling it stops the token)."""
        rows = self.db.fetch(_TOKEN_USER, {"h": digest(tok)})
        if not rows:
            return None
        r = rows[0]
        row = {k: r[k] for k in ("kind", "username", "household_id")}
        if r["kind"] != "staff" or r["role"] is None:
            return row, None
        user = User(
            r["username"],
            r["role"],
            r["worker_id"],
            r["unit_id"],
            r["display_name"],
            bool(r["active"]),
        )
        return row, user

    def device_household(self, tok: str, *, now: int | None = None) -> str | None:
        """The household whose registered phone this token is; None when it is unknown,
        revoked or a staff token."""
        row = self.token(tok, now=now) if tok else None
        if row is None or row["kind"] != "device":
            return None
        return str(row["household_id"])

    def list_tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        q = select(
            api_tokens.c.id,
            api_tokens.c.kind,
            api_tokens.c.username,
            api_tokens.c.household_id,
            api_tokens.c.label,
            api_tokens.c.created_at,
            api_tokens.c.revoked_at,
        ).order_by(api_tokens.c.id)
        if username is not None:
            q = q.where(api_tokens.c.username == username)
        with self.db.read() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def revoke_token(
        self,
        token_id: int,
        *,
        username: str | None = None,
        now: int | None = None,
        by: str = LOCAL,
    ) -> None:
        """Revoke an API token or a registered phone (``username``: only if it is theirs)."""
        now = now if now is not None else _now()
        q = update(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        if username is not None:
            q = q.where(api_tokens.c.username == username)
        with self.db.write() as conn:
            if conn.execute(q.values(revoked_at=now)).rowcount != 1:
                raise NotFound(f"no active token {token_id}")
            r = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
            what = {"id": token_id, "kind": r.kind, "username": r.username}
            audit.append(
                conn, "token.revoke", by, now, after=what | {"household_id": r.household_id}
            )

    def forget_household(
        self, household_id: str, *, now: int | None = None, by: str = LOCAL
    ) -> int:
        """The household's plates are revoked (moved out, plate stolen): its registered phones,
        its open household sessions and its PIN stop too, in one transaction with the audit
        event (the next plate comes with a new slip). Returns how many phones were revoked."""
        now = now if now is not None else _now()
        live = (
            (api_tokens.c.household_id == household_id)
            & (api_tokens.c.kind == "device")
            & api_tokens.c.revoked_at.is_(None)
        )
        mine = (sessions.c.kind == "household") & (sessions.c.household_id == household_id)
        with self.db.write() as conn:
            ids = [int(r.id) for r in conn.execute(select(api_tokens.c.id).where(live))]
            conn.execute(update(api_tokens).where(live).values(revoked_at=now))
            ended = conn.execute(delete(sessions).where(mine)).rowcount
            pin = delete(household_pins).where(household_pins.c.household_id == household_id)
            what = {
                "household_id": household_id,
                "phones_revoked": ids,
                "sessions_ended": ended,
                "pin_cleared": conn.execute(pin).rowcount == 1,
            }
            audit.append(conn, "household.forget", by, now, after=what)
        return len(ids)


__all__ = ["ROLES", "Accounts", "User", "check_password"]
