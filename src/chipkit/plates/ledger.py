"""The issuance ledger: which plate (serial) is live for which household.

Kept in the keyring directory as ``issued.jsonl``: one JSON object per line, only
ever appended (one ``write`` per group of records, then ``fsync``). Events:

``intent``   a serial is about to be rendered for a household (before the file exists)
``issued``   the plate file exists; the serial is now live (carries the manifest row)
``rendered`` an already-live plate was rendered again (same token, new file)
``void``     an intent whose file was never written (the token never left memory)
``revoked``  a live serial was revoked (``--reissue``, or an interrupted run's orphan)

A household's live plate is its newest ``issued`` serial that is not revoked. The
ledger is what stops a re-run from minting a second live plate: a household with a
live plate is reprinted with the same token, and only ``--reissue`` mints a new one
and revokes the old serial.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chipkit.errors import ChipkitError

LEDGER_FILE = "issued.jsonl"
LOCK_FILE = "issued.lock"


class LedgerError(ChipkitError):
    """The ledger cannot be read or written, or another batch holds it."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
        return json.loads(self.row_json) if self.row_json else {}


@dataclass
class LedgerState:
    live: dict[str, LivePlate] = field(default_factory=dict)
    dangling: list[dict[str, Any]] = field(default_factory=list)  # intents never resolved
    unrevoked_superseded: list[tuple[int, int]] = field(default_factory=list)  # (old, new)


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
    def append(self, records: list[dict[str, Any]]) -> None:
        """Append records durably (one write, then fsync)."""
        if not records:
            return
        stamp = _now()
        data = "".join(
            json.dumps({"time": stamp, **r}, ensure_ascii=False, separators=(",", ":")) + "\n"
            for r in records
        ).encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)

    # ------------------------------------------------------------ reading
    def records(self) -> Iterator[dict[str, Any]]:
        """Every record; a torn last line (a crash mid-write) is ignored."""
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
        st = LedgerState()
        intents: dict[int, dict[str, Any]] = {}
        issued: dict[int, dict[str, Any]] = {}
        revoked: set[int] = set()
        for rec in self.records():
            ev, serial = rec.get("event"), rec.get("serial")
            if not isinstance(serial, int):
                continue
            hid = rec.get("household_id", "")
            if ev == "intent":
                intents[serial] = rec
            elif ev == "issued":
                intents.pop(serial, None)
                issued[serial] = rec
                old = st.live.get(hid)
                st.live[hid] = LivePlate(
                    hid,
                    rec["village"],
                    serial,
                    rec["token"],
                    rec.get("batch", ""),
                    json.dumps(rec.get("row") or {}, ensure_ascii=False, separators=(",", ":")),
                    [rec["file"]] if rec.get("file") else [],
                )
                if old is not None and old.serial != serial and old.serial not in revoked:
                    st.unrevoked_superseded.append((old.serial, serial))
            elif ev == "rendered":
                live = st.live.get(hid)
                if live is not None and live.serial == serial:
                    if rec.get("row"):
                        live.row_json = json.dumps(
                            rec["row"], ensure_ascii=False, separators=(",", ":")
                        )
                    if rec.get("file"):
                        live.files.append(rec["file"])
            elif ev == "void":
                intents.pop(serial, None)
            elif ev == "revoked":
                intents.pop(serial, None)
                revoked.add(serial)
                live = st.live.get(hid)
                if live is not None and live.serial == serial:
                    del st.live[hid]
        st.dangling = list(intents.values())
        st.unrevoked_superseded = [(o, n) for o, n in st.unrevoked_superseded if o not in revoked]
        return st


__all__ = ["LEDGER_FILE", "Ledger", "LedgerError", "LedgerState", "LivePlate"]
