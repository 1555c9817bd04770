"""PIN slips made with the plates: every household a plate batch printed gets a new PIN and
its paper slip, written next to the plates, in one step that either completes or says
exactly what it left behind.

The order is what keeps a household from holding a PIN nobody has:

1. the plates are written (a batch that fails issues no PIN: this runs after it returned);
2. new PINs are drawn and hashed (Argon2id) in memory;
3. the slips are written to a hidden temporary file (mode 0600) in the plates' folder; if
   that fails, the file is removed and **no PIN is changed** (the old slips still work);
4. the hashes replace the old ones in one database transaction (all households or none);
5. the temporary file is renamed to ``pin-slips.pdf`` (or ``.csv``). Should that rename fail,
   the PINs are in force and the error names the temporary file that holds their slips.

Used by ``chipkit plates --db`` and by the service's plate jobs (issue and reissue).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from chipkit.cases import Database
from chipkit.errors import ChipkitError
from chipkit.plates.manifest import MANIFEST_JSON
from chipkit.serve.pins import (
    hash_pins,
    known_households,
    new_pin,
    slips_csv,
    slips_pdf,
    store_pins,
)

SLIPS = {"pdf": "pin-slips.pdf", "csv": "pin-slips.csv"}
SLIP_NAMES = frozenset(SLIPS.values())
#: the service deletes a job's slips this long after the job ends, downloaded or not
SLIPS_TTL = 30 * 60


class SlipsError(ChipkitError):
    """The slips could not be put in place; the message says whether any PIN changed."""


@dataclass
class SlipsResult:
    path: Path | None  # the slips file (mode 0600); None when no household got a PIN
    households: list[str] = field(default_factory=list)  # new PIN, slip in ``path``
    not_in_db: list[str] = field(default_factory=list)  # printed, unknown to the database

    def note(self) -> str:
        """One clause for a summary line."""
        text = (
            f"{len(self.households)} PIN slips in {self.path} (mode 0600: hand each to its "
            "household with the plate; the old PINs stopped working)"
            if self.path is not None
            else "no PIN slips made"
        )
        if self.not_in_db:
            more = "..." if len(self.not_in_db) > 5 else ""
            text += (
                f"; {len(self.not_in_db)} households not in the database got no PIN "
                f"({', '.join(self.not_in_db[:5])}{more}): import the register "
                "(`chipkit cases import`), then `chipkit households pins`"
            )
        return text


def plate_households(out: Path) -> list[str]:
    """The households that have a plate in a finished batch's folder (its manifest.json),
    in manifest order: issued, reissued, reprinted or already there."""
    with (out / MANIFEST_JSON).open(encoding="utf-8") as f:
        plates = json.load(f).get("plates") or []
    return list(dict.fromkeys(str(p["household_id"]) for p in plates))


def issue_slips(
    db: Database,
    household_ids: list[str],
    out: Path,
    *,
    fmt: str = "pdf",
    by: str = "system:local",
    hasher: PasswordHasher | None = None,
    font: str | None = None,
    now: int | None = None,
) -> SlipsResult:
    """New PINs and slips for ``household_ids`` (those the database knows) into
    ``out/pin-slips.<fmt>``; see the module docstring for the order and what a failure
    leaves. Raises :class:`SlipsError` with the exact state when the slips are not in place."""
    if fmt not in SLIPS:
        raise SlipsError(f"unknown slips format {fmt!r} (pdf or csv)")
    known = set(known_households(db))
    have = [h for h in dict.fromkeys(household_ids) if h in known]
    missing = [h for h in dict.fromkeys(household_ids) if h not in known]
    final = out / SLIPS[fmt]
    if not have:
        return SlipsResult(None, [], missing)
    made = [(h, new_pin()) for h in have]
    hashed = hash_pins(made, hasher)
    tmp = out / f".{final.name}.{secrets.token_hex(4)}.tmp"
    try:
        _write(made, tmp, fmt, font)
    except (OSError, ValueError, ChipkitError) as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise SlipsError(
            f"{final}: the PIN slips could not be written ({e}); no PIN was changed"
        ) from e
    try:
        store_pins(db, hashed, now=now, by=by)
    except Exception:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    try:
        os.replace(tmp, final)
    except OSError as e:
        raise SlipsError(
            f"the PINs of {len(have)} households were replaced, but their slips could not be "
            f"moved to {final} ({e.strerror or e}): they are in {tmp} (mode 0600); rename it"
        ) from e
    return SlipsResult(final, have, missing)


def job_slips(
    db: Database, out: Path, *, by: str, hasher: PasswordHasher | None, now: int
) -> dict[str, Any]:
    """The service's plate job: slips for every household it printed, as its result says
    them (the failure, if any, spelled out; never a PIN); they expire SLIPS_TTL from now."""
    try:
        res = issue_slips(db, plate_households(out), out, by=by, hasher=hasher, now=now)
    except SlipsError as e:
        return {"file": None, "households": 0, "not_in_database": [], "error": str(e)}
    return {
        "file": res.path.name if res.path else None,
        "households": len(res.households),
        "not_in_database": res.not_in_db[:100],
        "expires_at": now + SLIPS_TTL if res.path else None,
        "ttl_seconds": SLIPS_TTL,
    }


def _write(made: list[tuple[str, str]], tmp: Path, fmt: str, font: str | None) -> None:
    """The slips into a new file that only its owner may read, from its first byte."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    if fmt == "csv":
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(slips_csv(made))
        return
    os.close(fd)
    slips_pdf(made, tmp, font=font)  # reopens the 0600 file: its mode is kept


__all__ = [
    "SLIPS",
    "SLIP_NAMES",
    "SLIPS_TTL",
    "SlipsError",
    "SlipsResult",
    "issue_slips",
    "job_slips",
    "plate_households",
]
