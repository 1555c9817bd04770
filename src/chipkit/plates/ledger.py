"""The issuance ledger: which plate (serial) is live for which household.

Kept in the keyring directory as ``issued.jsonl``: one JSON object per line, only
ever appended (one ``write`` per group of records, then ``fsync``). Events, each a
typed record below:

``intent``   a serial is about to be rendered for a household (before the file exists)
``issued``   the plate file exists; the serial is now live (carries the manifest row)
``rendered`` an already-live plate was rendered again (same token, new file)
``void``     an intent whose file was never written (the token never left memory)
``revoked``  a serial was revoked (``--reissue``, an interrupted run's orphan, or a
             voided serial whose file appeared later)

A household's live plate is its newest ``issued`` serial that is not revoked. The
ledger is what stops a re-run from minting a second live plate: a household with a
live plate is reprinted with the same token, and only ``--reissue`` mints a new one
and revokes the old serial.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Union

from chipkit.errors import ChipkitError

LEDGER_FILE = "issued.jsonl"
LOCK_FILE = "issued.lock"


def _drop_torn_tail(fd: int) -> None:
    """Cut a torn last line (a crash mid-write: no newline, never fsynced, never acted
    upon) before appending, so the next record does not join it into invalid JSON."""
    end = os.fstat(fd).st_size
    if end == 0 or os.pread(fd, 1, end - 1) == b"\n":
        return
    pos = end
    while pos > 0:
        start = max(0, pos - 65536)
        cut = os.pread(fd, pos - start, start).rfind(b"\n")
        if cut >= 0:
            os.ftruncate(fd, start + cut + 1)
            return
        pos = start
    os.ftruncate(fd, 0)


class LedgerError(ChipkitError):
    """The ledger cannot be read or written, or another batch holds it."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# ------------------------------------------------------------------ records


@dataclass(frozen=True)
class Intent:
    """A serial about to be rendered: what re-sealing its exact token needs (Ed25519 and
    AES-SIV are deterministic), so an interrupted run's file can be adopted."""

    event: ClassVar[str] = "intent"
    batch: str
    serial: int
    household_id: str
    village: str
    file: str
    issued: str | None
    expires: str | None
    url_prefix: str | None
    sign_kid: int | None
    read_kid: int | None
    supersedes: int | None = None

    @classmethod
    def from_json(cls, r: dict[str, Any]) -> Intent:
        return cls(
            batch=str(r.get("batch", "")),
            serial=int(r["serial"]),
            household_id=str(r.get("household_id", "")),
            village=str(r.get("village", "")),
            file=str(r.get("file") or ""),
            issued=_opt_str(r.get("issued")),
            expires=_opt_str(r.get("expires")),
            url_prefix=_opt_str(r.get("url_prefix")),
            sign_kid=_opt_int(r.get("sign_kid")),
            read_kid=_opt_int(r.get("read_kid")),
            supersedes=_opt_int(r.get("supersedes")),
        )


@dataclass(frozen=True)
class Issued:
    """The plate file exists (``file`` None: adopted, to be rendered again); now live."""

    event: ClassVar[str] = "issued"
    batch: str
    serial: int
    household_id: str
    village: str
    token: str
    file: str | None
    row: dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """An already-live plate rendered again (same token) into ``file``."""

    event: ClassVar[str] = "rendered"
    batch: str
    serial: int
    household_id: str
    file: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Void:
    """An intent whose file was not there: the serial was never live. ``file`` is where it
    would have been, so a file that a dead batch's worker renamed there later is found."""

    event: ClassVar[str] = "void"
    serial: int
    household_id: str
    file: str | None = None


@dataclass(frozen=True)
class Revoked:
    event: ClassVar[str] = "revoked"
    serial: int
    household_id: str = ""
    reason: str = ""
    batch: str = ""
    superseded_by: int | None = None


Record = Union[Intent, Issued, Rendered, Void, Revoked]


def to_json(rec: Record | dict[str, Any]) -> dict[str, Any]:
    """The JSON object of a record (the on-disk format, ``event`` first); a dict is taken
    as already in that form (``chipkit.issuance`` writes its records so)."""
    if isinstance(rec, dict):
        return rec
    return {"event": rec.event, **rec.__dict__}


@dataclass
class LivePlate:
    household_id: str
    village: str
    serial: int
    token: str
    batch: str
    row_json: str  # the manifest row recorded when issued / last rendered (compact JSON)
    files: list[str] = field(default_factory=list)

    @property
    def row(self) -> dict[str, Any]:
        row = json.loads(self.row_json) if self.row_json else {}
        return row if isinstance(row, dict) else {}


@dataclass
class LedgerState:
    live: dict[str, LivePlate] = field(default_factory=dict)
    dangling: list[Intent] = field(default_factory=list)  # intents never resolved
    unrevoked_superseded: list[tuple[int, int]] = field(default_factory=list)  # (old, new)
    voided: list[Void] = field(default_factory=list)  # voided serials not revoked since
    revoked: set[int] = field(default_factory=set)
    villages: dict[int, str] = field(default_factory=dict)  # serial -> village (all seen)
    # household -> the files of its plates revoked while live (`chipkit revoke`): the next
    # plate it gets deletes those still in OUT, as --reissue deletes the plate it replaces
    revoked_files: dict[str, list[str]] = field(default_factory=dict)


def _compact(row: Any) -> str:
    return json.dumps(row or {}, ensure_ascii=False, separators=(",", ":"))


class _StateBuilder:
    """Folds ledger records, in order, into a :class:`LedgerState`."""

    def __init__(self) -> None:
        self.st = LedgerState()
        self.intents: dict[int, Intent] = {}
        self.voided: dict[int, Void] = {}

    def add(self, rec: dict[str, Any]) -> None:
        ev, serial = rec.get("event"), rec.get("serial")
        if not isinstance(serial, int) or isinstance(serial, bool):
            return
        hid = str(rec.get("household_id", ""))
        if isinstance(rec.get("village"), str) and rec["village"]:
            self.st.villages[serial] = rec["village"]
        if ev == "intent":
            self.intents[serial] = Intent.from_json(rec)
        elif ev == "issued":
            self._issued(rec, serial, hid)
        elif ev == "rendered":
            live = self.st.live.get(hid)
            if live is not None and live.serial == serial:
                if rec.get("row"):
                    live.row_json = _compact(rec["row"])
                if rec.get("file"):
                    live.files.append(rec["file"])
        elif ev == "void":
            intent = self.intents.pop(serial, None)
            file = _opt_str(rec.get("file")) or (intent.file if intent else None)
            self.voided[serial] = Void(serial, hid, file)
        elif ev == "revoked":
            self.intents.pop(serial, None)
            self.voided.pop(serial, None)
            self.st.revoked.add(serial)
            live = self.st.live.get(hid)
            if live is not None and live.serial == serial:
                self.st.revoked_files.setdefault(hid, []).extend(live.files)
                del self.st.live[hid]

    def _issued(self, rec: dict[str, Any], serial: int, hid: str) -> None:
        self.intents.pop(serial, None)
        old = self.st.live.get(hid)
        self.st.live[hid] = LivePlate(
            hid,
            rec["village"],
            serial,
            rec["token"],
            rec.get("batch", ""),
            _compact(rec.get("row")),
            [rec["file"]] if rec.get("file") else [],
        )
        if old is not None and old.serial != serial and old.serial not in self.st.revoked:
            self.st.unrevoked_superseded.append((old.serial, serial))

    def finish(self) -> LedgerState:
        st = self.st
        st.dangling = list(self.intents.values())
        st.voided = list(self.voided.values())
        st.unrevoked_superseded = [
            (o, n) for o, n in st.unrevoked_superseded if o not in st.revoked
        ]
        return st


class Ledger:
    """Append-only issuance ledger in a keyring directory. Use as a context manager."""

    def __init__(self, keyring_dir: str | Path) -> None:
        self.dir = Path(keyring_dir)
        self.path = self.dir / LEDGER_FILE
        self._lock_fd: int | None = None

    # ------------------------------------------------------------ locking
    def __enter__(self) -> Ledger:
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LedgerError(
                f"{self.dir}: another plates batch is running with this keyring; wait for it to finish"
            ) from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------ writing
    def append(self, records: Sequence[Record | dict[str, Any]]) -> None:
        """Append records durably (one write, then fsync)."""
        if not records:
            return
        stamp = _now()
        data = "".join(
            json.dumps({"time": stamp, **to_json(r)}, ensure_ascii=False, separators=(",", ":"))
            + "\n"
            for r in records
        ).encode("utf-8")
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _drop_torn_tail(fd)
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)

    # ------------------------------------------------------------ reading
    def records(self) -> Iterator[dict[str, Any]]:
        """Every record as JSON; a torn last line (a crash mid-write) is ignored."""
        try:
            f = self.path.open("r", encoding="utf-8")
        except FileNotFoundError:
            return
        with f:
            for n, line in enumerate(f, start=1):
                if not line.endswith("\n"):
                    return  # torn tail: never fsynced, so never acted upon
                try:
                    rec = json.loads(line)
                except ValueError:
                    raise LedgerError(f"{self.path}: line {n} is not valid JSON") from None
                if isinstance(rec, dict):
                    yield rec

    def state(self) -> LedgerState:
        b = _StateBuilder()
        for rec in self.records():
            b.add(rec)
        return b.finish()


__all__ = [
    "LEDGER_FILE",
    "Intent",
    "Issued",
    "Ledger",
    "LedgerError",
    "LedgerState",
    "LivePlate",
    "Record",
    "Rendered",
    "Revoked",
    "Void",
    "to_json",
]
