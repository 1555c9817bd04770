"""What this machine has seen of each keyring: the high-water memory against old backups.

A keyring restored from an older backup is authentic (its MAC is fine), so the file alone
cannot tell. This module remembers, per machine and user and outside every keyring
folder, the highest ``next_serial``, the highest ``bundle_counter`` and the revoked
serials (serials only) seen for each keyring, keyed by its office fingerprint. A keyring
behind that memory raises ``KeyringRolledBack``.

The memory is ``$CHIPKIT_STATE_DIR/keyrings.json``, by default
``$XDG_STATE_HOME/chipkit/keyrings.json`` (``~/.local/state/chipkit/keyrings.json``),
written atomically, mode 0600, under a lock. A memory that cannot be read (corrupt) is
an error naming the file; one that cannot be written (read-only home) is checked as far
as it can be read, and a ``KeyringWarning`` says once that nothing is recorded. A fresh
machine has no memory, so it cannot detect a restore made before its first use.

It sits in the trust layer just above ``chipkit._files``; ``chipkit.keyfile`` calls it.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chipkit._files import locked, write_private
from chipkit.errors import KeyringError, KeyringRolledBack, KeyringWarning
from chipkit.token import MAX_SERIAL

STATE_ENV = "CHIPKIT_STATE_DIR"
MEMORY_FILE = "keyrings.json"
FORMAT = "chipkit-keyring-memory/1"
RESTORED_REASON = "re-applied after restore"
_warned: set[str] = set()


def state_dir() -> Path:
    """``$CHIPKIT_STATE_DIR``, else ``$XDG_STATE_HOME/chipkit``, else ``~/.local/state/chipkit``."""
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "chipkit"


def memory_file() -> Path:
    return state_dir() / MEMORY_FILE


@dataclass(frozen=True)
class Seen:
    """A keyring's high-water marks: what it is, or the most this machine has seen of it."""

    next_serial: int
    bundle_counter: int
    revoked: frozenset[int]

    @classmethod
    def of(cls, data: dict[str, Any]) -> Seen:
        """The marks of an authenticated keyring document."""
        return cls(
            int(data["next_serial"]),
            int(data["bundle_counter"]),
            frozenset(int(r["serial"]) for r in data["revoked"]),
        )

    def merge(self, other: Seen) -> Seen:
        return Seen(
            max(self.next_serial, other.next_serial),
            max(self.bundle_counter, other.bundle_counter),
            self.revoked | other.revoked,
        )

    def behind(self, seen: Seen) -> list[str]:
        """What in this keyring went back compared to ``seen``, with why it matters."""
        out = []
        if self.next_serial < seen.next_serial:
            out.append(
                f"next serial {self.next_serial:,} < {seen.next_serial:,} seen here "
                "(new plates would reuse printed serials)"
            )
        if self.bundle_counter < seen.bundle_counter:
            out.append(
                f"bundle counter {self.bundle_counter:,} < {seen.bundle_counter:,} seen here "
                "(devices would refuse its next bundles)"
            )
        missing = len(seen.revoked - self.revoked)
        if missing:
            out.append(f"{missing:,} revocation(s) missing (revoked plates would verify again)")
        return out


@dataclass(frozen=True)
class Restored:
    """What accepting a restore changed: (before, after) marks and the re-applied serials."""

    path: Path
    next_serial: tuple[int, int]
    bundle_counter: tuple[int, int]
    reapplied: tuple[int, ...]

    @property
    def changed(self) -> bool:
        return bool(
            self.reapplied
            or self.next_serial[0] != self.next_serial[1]
            or self.bundle_counter[0] != self.bundle_counter[1]
        )

    def __str__(self) -> str:
        if not self.changed:
            return f"{self.path}: nothing to accept: the keyring is not behind what this machine has seen"
        (s0, s1), (c0, c1) = self.next_serial, self.bundle_counter
        return (
            f"{self.path}: restore accepted: next serial {s0:,} -> {s1:,}, bundle counter "
            f"{c0:,} -> {c1:,}, {len(self.reapplied):,} revocation(s) re-applied; "
            "export a new verifier bundle"
        )


def catch_up(path: Path, data: dict[str, Any], seen: Seen | None, day: str) -> Restored:
    """Move a restored keyring document past ``seen``: serial, counter, revocations."""
    now = Seen.of(data)
    seen = seen or now
    data["next_serial"] = max(now.next_serial, seen.next_serial)
    data["bundle_counter"] = max(now.bundle_counter, seen.bundle_counter)
    missing = tuple(sorted(seen.revoked - now.revoked))
    for serial in missing:
        data["revoked"].append({"serial": serial, "reason": RESTORED_REASON, "date": day})
    return Restored(
        path,
        (now.next_serial, data["next_serial"]),
        (now.bundle_counter, data["bundle_counter"]),
        missing,
    )


def _parse(path: Path, raw: str) -> dict[str, Seen]:
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("format")
    out = {}
    for fp, rec in doc["keyrings"].items():
        serials = rec["revoked"]
        values = [rec["next_serial"], rec["bundle_counter"], *serials]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError("types")
        if not (0 <= rec["next_serial"] <= MAX_SERIAL + 1 and 0 <= rec["bundle_counter"] < 2**53):
            raise ValueError("range")
        if not all(1 <= v <= MAX_SERIAL for v in serials):
            raise ValueError("serial")
        out[str(fp)] = Seen(rec["next_serial"], rec["bundle_counter"], frozenset(serials))
    return out


def read_memory(path: Path | None = None) -> dict[str, Seen]:
    """Every keyring's marks by office fingerprint; KeyringError for a corrupt memory."""
    path = path or memory_file()
    try:
        raw = path.read_text("utf-8")
    except (FileNotFoundError, NotADirectoryError):  # nothing remembered yet
        return {}
    except PermissionError:
        _warn_once(path, "cannot be read")
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise KeyringError(f"{path}: unreadable keyring memory ({type(e).__name__})") from None
    try:
        return _parse(path, raw)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeyringError(
            f"{path}: corrupt keyring memory (it guards keyrings against restored backups): "
            "restore it, or move it aside knowingly (every keyring is then trusted as it is)"
        ) from None


def _dump(memory: dict[str, Seen]) -> bytes:
    doc = {
        "format": FORMAT,
        "keyrings": {
            fp: {
                "next_serial": s.next_serial,
                "bundle_counter": s.bundle_counter,
                "revoked": sorted(s.revoked),
            }
            for fp, s in sorted(memory.items())
        },
    }
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


def _warn_once(path: Path, what: str) -> None:
    if str(path) in _warned:
        return
    _warned.add(str(path))
    warnings.warn(
        f"{path}: the keyring memory {what}: keyrings restored from old backups are not "
        f"detected on this machine (set {STATE_ENV} to a writable folder)",
        KeyringWarning,
        stacklevel=4,
    )


def check(keyring: Path, office: str, now: Seen) -> None:
    """Raise KeyringRolledBack when the keyring is behind what this machine has seen."""
    seen = read_memory().get(office)
    if seen is None:
        return
    went_back = now.behind(seen)
    if went_back:
        raise KeyringRolledBack(
            f"{keyring}: this keyring is older than one this machine has seen (restored from "
            f"a backup?): {'; '.join(went_back)}. If the restore was deliberate, run "
            f"`chipkit keys restored {keyring}`"
        )


def recall(office: str) -> Seen | None:
    """The most this machine has seen of the keyring with this office fingerprint."""
    return read_memory().get(office)


def remember(office: str, now: Seen) -> None:
    """Raise the memory of this keyring to at least ``now`` (never lowers anything).

    A state folder that cannot be written records nothing (one ``KeyringWarning``).
    """
    directory = state_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(directory, name=".keyrings.lock"):
            path = directory / MEMORY_FILE
            memory = read_memory(path)
            old = memory.get(office)
            new = now if old is None else old.merge(now)
            if new != old:
                memory[office] = new
                write_private(path, _dump(memory))
    except OSError:
        _warn_once(directory / MEMORY_FILE, "cannot be written")


__all__ = [
    "MEMORY_FILE",
    "RESTORED_REASON",
    "STATE_ENV",
    "Restored",
    "Seen",
    "catch_up",
    "check",
    "memory_file",
    "read_memory",
    "recall",
    "remember",
    "state_dir",
]
