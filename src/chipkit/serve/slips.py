"""PIN slips made with the plates: every household a plate batch printed that holds no PIN
gets a new PIN and its paper slip, written next to the plates, in one step that either
completes or says exactly what it left behind.

A household that already holds a PIN keeps it (its slip stays valid; no new slip) unless the
caller asks for ``new_pins``: then its PIN is replaced and its old slip stops working. This
rule lives here once, for ``chipkit plates --db`` and the service's plate jobs alike.

The order is what keeps a household from holding a PIN nobody has:

1. the plates are written (a batch that fails issues no PIN: this runs after it returned);
2. the households that hold a PIN are set aside (kept) unless ``new_pins``; new PINs are
   drawn and hashed (Argon2id) in memory;
3. the slips are written to a hidden temporary file (mode 0600) in the plates' folder; if
   that fails, the file is removed and **no PIN is changed** (the old slips still work);
4. the hashes replace the old ones in one database transaction (all households or none);
   without ``new_pins``, a household that got a PIN meanwhile (another run) makes the
   transaction store nothing, so a PIN handed out is never overwritten by surprise;
5. the temporary file takes the next free slips name in the folder (``pin-slips.pdf``, then
   ``pin-slips-2.pdf``, ``pin-slips-3.pdf`` ...; ``.csv`` alike): a hard link that fails if the
   name exists, so a file of an earlier run, whose slips may not be handed out yet, is
   **never replaced** (see :func:`place_slips`). Should that fail, the PINs are in force and
   the error names the temporary file that holds their slips.

Used by ``chipkit plates --db`` and by the service's plate jobs (issue and reissue);
``chipkit households pins``, which does replace PINs, by :func:`replace_pins_to_file`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from chipkit.cases import Database
from chipkit.errors import ChipkitError
from chipkit.plates.manifest import MANIFEST_JSON
from chipkit.serve.pins import (
    PinsTaken,
    chosen_households,
    hash_pins,
    household_doors,
    known_households,
    new_pin,
    pinned_households,
    slips_csv,
    slips_pdf,
    store_pins,
)

#: the first slips file of a folder, by format; later runs number theirs (pin-slips-2.pdf ...)
SLIPS = {"pdf": "pin-slips.pdf", "csv": "pin-slips.csv"}
_NAME = re.compile(r"^pin-slips(?:-([1-9][0-9]{0,5}))?\.(pdf|csv)$")
#: a slips file, or the hidden leftover of a write (.tmp) or a download (.sent) of one
_ANY = re.compile(r"^\.?pin-slips(?:-[1-9][0-9]{0,5})?\.(?:pdf|csv)(?:\.[0-9a-f]+\.(?:tmp|sent))?$")
#: a file system without hard links (a FAT USB stick): placed by a checked rename instead
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}
#: the service deletes a job's slips this long after the job ends, downloaded or not
SLIPS_TTL = 30 * 60


class SlipsError(ChipkitError):
    """The slips could not be put in place; the message says whether any PIN changed."""


@dataclass
class SlipsResult:
    path: Path | None  # the slips file (mode 0600); None when no household got a PIN
    households: list[str] = field(default_factory=list)  # new PIN, slip in ``path``
    not_in_db: list[str] = field(default_factory=list)  # printed, unknown to the database
    kept: list[str] = field(default_factory=list)  # held a PIN: kept, no slip
    replaced: list[str] = field(default_factory=list)  # held a PIN: replaced (new_pins)
    earlier: list[str] = field(default_factory=list)  # older slips files in the folder: untouched

    def note(self, new_pins_flag: str = "--new-pins") -> str:
        """One clause for a summary line (``new_pins_flag``: how the caller asks for new PINs)."""
        text = (
            f"{len(self.households)} PIN slips in {self.path} (mode 0600: hand each to its "
            "household with the plate)"
            if self.path is not None
            else "no PIN slips made"
        )
        if self.path is not None and self.earlier:
            more = ", ..." if len(self.earlier) > 3 else ""
            text += f" (earlier slips files left as they were: {', '.join(self.earlier[:3])}{more})"
        if self.replaced:
            text += (
                f"; {len(self.replaced)} households had a PIN: replaced (their old slips "
                "stopped working)"
            )
        if self.kept:
            text += (
                f"; {len(self.kept)} households already have a PIN: kept (their slips stay "
                f"valid); to replace them, {new_pins_flag}"
            )
        if self.not_in_db:
            more = "..." if len(self.not_in_db) > 5 else ""
            text += (
                f"; {len(self.not_in_db)} households not in the database got no PIN "
                f"({', '.join(self.not_in_db[:5])}{more}): import the register "
                "(`chipkit cases import`), then `chipkit households pins`"
            )
        return text


def is_slips_name(name: str) -> bool:
    """Whether ``name`` is a slips file's name (``pin-slips.pdf``, ``pin-slips-2.csv`` ...)."""
    return _NAME.match(name) is not None


def is_slips_file(name: str) -> bool:
    """A slips file, or the hidden leftover of an interrupted write or download of one."""
    return _ANY.match(name) is not None


def next_slips_name(out: Path, fmt: str) -> str:
    """The name the next slips file of ``out`` takes: ``pin-slips.<fmt>`` in a folder with
    none, else numbered one above the highest there (either format): the files of
    successive runs are numbered in the order they were made."""
    nums = [int(m.group(1) or 1) for p in out.iterdir() if (m := _NAME.match(p.name)) is not None]
    if not nums:
        return SLIPS[fmt]
    return f"pin-slips-{max(nums) + 1}.{fmt}"


def place_slips(tmp: Path, out: Path, fmt: str) -> Path:
    """Give the finished slips file ``tmp`` the next free slips name in ``out`` and return
    it. Never replaces a file: the name is taken with a hard link, which fails if another
    file (an earlier run's, or a concurrent run's) holds it, and then the next is tried."""
    for _ in range(100):
        final = out / next_slips_name(out, fmt)
        if _take_name(tmp, final):
            return final
        # a concurrent run took it first: the next one
    raise FileExistsError(errno.EEXIST, "no free slips file name", str(out))


def _take_name(tmp: Path, final: Path) -> bool:
    """Give ``tmp`` the name ``final`` unless a file holds it (then False, nothing done)."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in _NO_LINKS:
            raise
        if final.exists() or final.is_symlink():  # no hard links here: a checked rename
            return False
        os.replace(tmp, final)
        return True
    with contextlib.suppress(OSError):
        tmp.unlink()
    return True


def plate_households(out: Path) -> list[str]:
    """The households that have a plate in a finished batch's folder (its manifest.json),
    in manifest order: issued, reissued, reprinted or already there."""
    with (out / MANIFEST_JSON).open(encoding="utf-8") as f:
        plates = json.load(f).get("plates") or []
    return list(dict.fromkeys(str(p["household_id"]) for p in plates))


def plate_doors(out: Path) -> dict[str, str]:
    """Village name and house number of each household with a plate in ``out`` that has a
    house number (its manifest.json), as printed on the plate; {} without a manifest."""
    try:
        with (out / MANIFEST_JSON).open(encoding="utf-8") as f:
            plates = json.load(f).get("plates") or []
    except (OSError, ValueError):
        return {}
    return {
        str(p["household_id"]): " ".join(
            str(p[k]) for k in ("village_name", "house_no") if p.get(k)
        )
        for p in plates
        if p.get("house_no")
    }


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
    new_pins: bool = False,
) -> SlipsResult:
    """New PINs and slips for ``household_ids`` (those the database knows; those holding a
    PIN only with ``new_pins``) into a new slips file of ``out`` (``pin-slips.<fmt>``, or
    numbered when one is there: never replaced); see the module docstring for the order and
    what a failure leaves. Raises :class:`SlipsError` with the exact state when
    the slips are not in place."""
    if fmt not in SLIPS:
        raise SlipsError(f"unknown slips format {fmt!r} (pdf or csv)")
    known = set(known_households(db))
    wanted = [h for h in dict.fromkeys(household_ids) if h in known]
    missing = [h for h in dict.fromkeys(household_ids) if h not in known]
    held = pinned_households(db, wanted)
    kept = [] if new_pins else [h for h in wanted if h in held]
    have = [h for h in wanted if new_pins or h not in held]
    if not have:
        return SlipsResult(None, [], missing, kept)
    made = [(h, new_pin()) for h in have]
    hashed = hash_pins(made, hasher)
    doors = {**household_doors(db, have), **plate_doors(out)}
    tmp = _write(made, out / f".{SLIPS[fmt]}.{secrets.token_hex(4)}.tmp", fmt, font, out, doors)
    try:
        store_pins(db, hashed, now=now, by=by, only_new=not new_pins)
    except Exception as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, PinsTaken):
            raise SlipsError(
                f"{out}: {len(e.households)} of these households got a PIN meanwhile "
                f"({', '.join(e.households[:5])}; another run?); no PIN was changed: run again"
            ) from e
        raise
    try:
        final = place_slips(tmp, out, fmt)
    except OSError as e:
        raise SlipsError(
            f"the new PINs of {len(have)} households are in force, but their slips could not be "
            f"named in {out} ({e.strerror or e}): they are in {tmp} (mode 0600); rename it"
        ) from e
    earlier = sorted(
        p.name for p in out.iterdir() if is_slips_name(p.name) and p != final and p.is_file()
    )
    return SlipsResult(final, have, missing, kept, [h for h in have if h in held], earlier)


def job_slips(
    db: Database,
    out: Path,
    *,
    by: str,
    hasher: PasswordHasher | None,
    now: int,
    new_pins: bool = False,
) -> dict[str, Any]:
    """The service's plate job: slips for the households it printed that hold no PIN (all
    of them with ``new_pins``), as its result says them (the failure, if any, spelled out;
    never a PIN); they expire SLIPS_TTL from now."""
    hids = plate_households(out)
    try:
        res = issue_slips(db, hids, out, by=by, hasher=hasher, now=now, new_pins=new_pins)
    except SlipsError as e:
        return {"file": None, "households": 0, "not_in_database": [], "error": str(e)}
    return {
        "file": res.path.name if res.path else None,
        "households": len(res.households),
        "kept": len(res.kept),  # held a PIN: kept, their slips stay valid
        "replaced": len(res.replaced),  # held a PIN: replaced, their old slips stopped working
        "not_in_database_count": len(res.not_in_db),
        "not_in_database": res.not_in_db[:100],  # the first 100
        "expires_at": now + SLIPS_TTL if res.path else None,
        "ttl_seconds": SLIPS_TTL,
    }


def replace_pins_to_file(
    db: Database,
    path: Path,
    household_ids: list[str] | None = None,
    *,
    village: str | None = None,
    by: str = "system:local",
    hasher: PasswordHasher | None = None,
    font: str | None = None,
    now: int | None = None,
) -> list[str]:
    """``chipkit households pins``: a NEW PIN for each chosen household (``household_ids``,
    else every household of ``village``, else all) -- a PIN it holds is REPLACED, its old slip
    stops working -- and their slips in ``path`` (.pdf or .csv), a file that must not exist
    (an earlier slips file is never overwritten). The order of :func:`issue_slips`: slips
    written (0600) before the hashes are stored, so a failed write changes no PIN. Returns
    the households (none: nothing written); raises :class:`SlipsError` or ``NotFound``."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in SLIPS:
        raise SlipsError(f"{path}: the slips file must end in .csv or .pdf")
    if path.exists() or path.is_symlink():
        raise SlipsError(
            f"{path}: the file exists; an earlier slips file is never overwritten (its slips "
            "may not be handed out yet): choose a new name; no PIN was changed"
        )
    chosen = chosen_households(db, household_ids, village=village)
    if not chosen:
        return []
    made = [(h, new_pin()) for h in chosen]
    hashed = hash_pins(made, hasher)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp = _write(made, tmp, fmt, font, path, household_doors(db, chosen))
    try:
        store_pins(db, hashed, village=village, now=now, by=by)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    try:
        if _take_name(tmp, path):
            return chosen
        problem = "another file took its name meanwhile"
    except OSError as e:
        problem = str(e.strerror or e)
    raise SlipsError(
        f"the new PINs of {len(chosen)} households are in force, but their slips could not be "
        f"named {path} ({problem}): they are in {tmp} (mode 0600); rename it"
    )


def _write(
    made: list[tuple[str, str]],
    tmp: Path,
    fmt: str,
    font: str | None,
    where: Path,
    doors: dict[str, str] | None = None,
) -> Path:
    """The slips into a new file that only its owner may read, from its first byte; on
    failure the file is removed and :class:`SlipsError` says no PIN changed (``where``)."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        if fmt == "csv":
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(slips_csv(made))
        else:
            os.close(fd)
            slips_pdf(made, tmp, font=font, doors=doors)  # reopens the 0600 file: mode kept
    except (OSError, ValueError, ChipkitError) as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise SlipsError(
            f"{where}: the PIN slips could not be written ({e}); no PIN was changed"
        ) from e
    return tmp


__all__ = [
    "SLIPS",
    "SLIPS_TTL",
    "SlipsError",
    "SlipsResult",
    "is_slips_file",
    "is_slips_name",
    "issue_slips",
    "job_slips",
    "next_slips_name",
    "place_slips",
    "plate_doors",
    "plate_households",
    "replace_pins_to_file",
]
