"""Household PINs: the credential a resident has and the grid worker does not.

The plate is public (anyone passing the door can photograph it), so the chip alone only
"knocks on the door". Confirming or rating a resolution, withdrawing a request and reading the
household's case history need the household's PIN, printed on a paper slip handed to the
household with its plate (never on the plate), or a phone registered with that PIN. PINs are
stored as Argon2id hashes; guesses are throttled per household and per address by the service.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select

from chipkit.cases import Database, NotFound, audit
from chipkit.cases.models import households, units
from chipkit.errors import ChipkitError
from chipkit.serve.models import household_pins

PIN_DIGITS = 8
#: lighter than the password profile: slips for a whole district are made in one batch
PIN_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


def issue_pins(
    db: Database,
    household_ids: Iterable[str] | None = None,
    *,
    village: str | None = None,
    hasher: PasswordHasher | None = None,
    now: int | None = None,
    by: str = "system:local",
) -> list[tuple[str, str]]:
    """New PINs for the given households (or every household of ``village``, or all);
    returns (household_id, PIN) pairs to print on slips. An old PIN stops working. One
    ``household.pins`` audit event names ``by`` (never a PIN)."""
    hasher = hasher or PIN_HASHER
    out = [(hid, new_pin()) for hid in chosen_households(db, household_ids, village=village)]
    store_pins(db, hash_pins(out, hasher), village=village, now=now, by=by)
    return out


def known_households(db: Database, *, village: str | None = None) -> list[str]:
    """The household ids the cases register holds (of ``village``, or all), sorted."""
    with db.read() as conn:
        q = select(households.c.id).order_by(households.c.id)
        if village is not None:
            q = q.where(households.c.village_id == village)
        return [r.id for r in conn.execute(q)]


def chosen_households(
    db: Database, household_ids: Iterable[str] | None, *, village: str | None = None
) -> list[str]:
    """``household_ids`` (each once, in order; NotFound for one the register lacks), else
    every household of ``village``, else all."""
    known = known_households(db, village=village)
    if household_ids is None:
        return known
    wanted = list(dict.fromkeys(household_ids))
    missing = sorted(set(wanted) - set(known))
    if missing:
        raise NotFound(f"unknown household {missing[0]}")
    return wanted


class PinsTaken(ChipkitError):
    """Households that got a PIN between the check and the write (``store_pins(only_new=True)``):
    nothing was stored."""

    def __init__(self, household_ids: list[str]) -> None:
        self.households = household_ids
        super().__init__(f"{len(household_ids)} households got a PIN meanwhile")


def pinned_households(db: Database, household_ids: Iterable[str]) -> set[str]:
    """Those of ``household_ids`` that hold a PIN now."""
    ids = list(dict.fromkeys(household_ids))
    with db.read() as conn:
        return _pinned(conn, ids)


def _pinned(conn: Any, ids: list[str]) -> set[str]:
    col = household_pins.c.household_id
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        found.update(conn.execute(select(col).where(col.in_(ids[start : start + 500]))).scalars())
    return found


def hash_pins(
    pins: list[tuple[str, str]], hasher: PasswordHasher | None = None
) -> list[tuple[str, str]]:
    """(household_id, Argon2id hash of its PIN) pairs: what :func:`store_pins` keeps. A
    batch is hashed on a few threads (argon2 releases the GIL: ~1.5x on 2 cores)."""
    hasher = hasher or PIN_HASHER
    threads = min(4, os.cpu_count() or 1, max(1, len(pins) // 16))
    if threads == 1:
        return [(h, hasher.hash(p)) for h, p in pins]
    with ThreadPoolExecutor(threads, thread_name_prefix="chipkit-pins") as pool:
        hashes = list(pool.map(hasher.hash, [p for _, p in pins]))
    return [(h, ph) for (h, _), ph in zip(pins, hashes, strict=True)]


def store_pins(
    db: Database,
    hashed: list[tuple[str, str]],
    *,
    village: str | None = None,
    now: int | None = None,
    by: str = "system:local",
    only_new: bool = False,
) -> None:
    """Replace the households' PIN hashes in one transaction (all or none), with one
    ``household.pins`` audit event naming ``by`` (and how many PINs it replaced). With
    ``only_new``, a household that holds a PIN by then raises :class:`PinsTaken` and nothing
    is stored (the check and the write are one transaction)."""
    now = now if now is not None else int(time.time())
    rows = [{"household_id": h, "pin_hash": ph, "created_at": now} for h, ph in hashed]
    with db.write() as conn:
        held = _pinned(conn, [h for h, _ in hashed])
        if held and only_new:
            raise PinsTaken(sorted(held))
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            conn.execute(
                delete(household_pins).where(
                    household_pins.c.household_id.in_([r["household_id"] for r in chunk])
                )
            )
            conn.execute(insert(household_pins), chunk)
        ids = [h for h, _ in hashed]
        what = {
            "count": len(ids),
            "replaced": len(held),
            "village": village,
            "households": ids if len(ids) <= 100 else None,
        }
        audit.append(conn, "household.pins", by, now, after=what)


def check_pin(
    db: Database, household_id: str, pin: str, *, hasher: PasswordHasher | None = None
) -> bool:
    """Is this the household's current PIN? False when it has none."""
    hasher = hasher or PIN_HASHER
    if not isinstance(pin, str) or not pin.isdigit() or len(pin) != PIN_DIGITS:
        return False
    with db.read() as conn:
        stored = conn.execute(
            select(household_pins.c.pin_hash).where(household_pins.c.household_id == household_id)
        ).scalar()
    if stored is None:
        return False
    try:
        return bool(hasher.verify(stored, pin))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def slips_csv(pins: list[tuple[str, str]]) -> str:
    """The slips as CSV (UTF-8 with BOM, so Excel on Chinese Windows opens it)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(["household_id", "pin"])
    for hid, pin in pins:
        w.writerow([hid, pin])
    return buf.getvalue()


def household_doors(db: Database, household_ids: Iterable[str]) -> dict[str, str]:
    """What a slip says about where it goes, from the cases register: the village name and
    the address when the register gave one (the plate never shows the household id)."""
    ids = list(dict.fromkeys(household_ids))
    doors: dict[str, str] = {}
    with db.read() as conn:
        for start in range(0, len(ids), 500):
            q = (
                select(households.c.id, households.c.address, units.c.name)
                .join(units, units.c.id == households.c.village_id)
                .where(households.c.id.in_(ids[start : start + 500]))
            )
            for hid, address, village in conn.execute(q):
                doors[hid] = " ".join(x for x in (village, address) if x)
    return doors


def slips_pdf(
    pins: list[tuple[str, str]],
    path: str | Path,
    *,
    font: str | None = None,
    doors: Mapping[str, str] | None = None,
) -> Path:
    """One slip per household, 10 to an A4 page, cut lines between them. ``doors``: the
    village and house number of each household (printed beside its id, so the clerk can
    hand each slip to the door whose plate it goes with)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from chipkit.fonts import find_cjk_font

    cjk = find_cjk_font(font)
    fname = "ck-slip-cjk"
    pdfmetrics.registerFont(TTFont(fname, str(cjk.path), subfontIndex=cjk.index))
    path = Path(path)
    c = canvas.Canvas(str(path), pagesize=A4)
    w, h = A4
    per_page, slip_h = 10, (h - 20 * mm) / 10
    for i, (hid, pin) in enumerate(pins):
        if i and i % per_page == 0:
            c.showPage()
        y = h - 10 * mm - (i % per_page + 1) * slip_h
        c.setDash(2, 2)
        c.line(10 * mm, y, w - 10 * mm, y)
        c.setDash()
        c.setFont(fname, 11)
        door = (doors or {}).get(hid, "")
        c.drawString(
            15 * mm,
            y + slip_h - 9 * mm,
            f"户号 Household: {hid}" + (f"    门牌 Door: {door}" if door else ""),
        )
        c.setFont(fname, 16)
        c.drawString(15 * mm, y + slip_h - 18 * mm, f"住户密码 PIN: {pin}")
        c.setFont(fname, 8)
        c.drawString(
            15 * mm,
            y + 4 * mm,
            "请妥善保管，勿告诉他人（包括网格员）。确认、评价、撤回诉求时需要此密码。"
            " Keep private: needed to confirm, rate or withdraw.",
        )
    c.save()
    return path


__all__ = [
    "PIN_DIGITS",
    "PinsTaken",
    "check_pin",
    "hash_pins",
    "household_doors",
    "issue_pins",
    "known_households",
    "new_pin",
    "pinned_households",
    "slips_csv",
    "slips_pdf",
    "store_pins",
]
