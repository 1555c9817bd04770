"""Visits: a worker checks in at a household by scanning its plate; implausible check-ins
are recorded with flags (impossible_travel, gps_far, duplicate_photo, burst, not_linked)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select

from chipkit.cases import audit
from chipkit.cases.base import Actor, ServiceBase
from chipkit.cases.errors import BadInput, CasesError, ChipRefused
from chipkit.cases.models import households, visits
from chipkit.cases.records import Household, Visit, Worker, from_row

MAX_SPEED_MPS = 15.0  # ~54 km/h between two households, door to door
MIN_GAP_SECS = 20  # two different doors less than this apart in time, positions unknown
GPS_FAR_M = 150.0  # beyond the reported accuracy
BURST_WINDOW = 600
BURST_COUNT = 6  # this many check-ins by one worker within BURST_WINDOW is a burst

Fix = tuple[float, float, float | None]


def parse_gps(value: str | Iterable[float] | None) -> Fix | None:
    """``"LAT,LON[,ACC]"`` (or a tuple) -> (lat, lon, accuracy metres); BadInput if malformed."""
    if value is None:
        return None
    parts: list[Any] = (
        [p.strip() for p in value.split(",")] if isinstance(value, str) else list(value)
    )
    if len(parts) not in (2, 3):
        raise BadInput(f"GPS {value!r}: expected LAT,LON or LAT,LON,ACCURACY")
    try:
        nums = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise BadInput(f"GPS {value!r}: not numbers") from None
    if not all(math.isfinite(n) for n in nums):
        raise BadInput(f"GPS {value!r}: not finite")
    lat, lon = nums[0], nums[1]
    acc = nums[2] if len(nums) == 3 else None
    if not -90 <= lat <= 90:
        raise BadInput(f"GPS latitude {lat} is outside -90..90")
    if not -180 <= lon <= 180:
        raise BadInput(f"GPS longitude {lon} is outside -180..180")
    if acc is not None and not 0 <= acc <= 100_000:
        raise BadInput(f"GPS accuracy {acc} m is outside 0..100000")
    return lat, lon, acc


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def token_from_photo(image: Any) -> str | bytes:
    """The one chip in a photo of a plate (text for QR, bytes for binary carriers)."""
    try:
        from chipkit.scan import read_codes
    except ImportError:  # pragma: no cover - the scan package ships with chipkit
        raise CasesError(
            "reading plates from photos needs chipkit.scan; pass the chip text"
        ) from None
    from chipkit import token as tk

    chips: list[str | bytes] = []
    for code in read_codes(image):
        if code.carrier == "qr":
            if tk.looks_like_chip(code.text):
                chips.append(code.text)
        else:
            chips.append(bytes(code.raw))
    distinct = list(dict.fromkeys(chips))
    if not distinct:
        raise ChipRefused("no chip found in the photo")
    if len(distinct) > 1:
        raise BadInput(f"{len(distinct)} different chips in the photo; photograph one plate")
    return distinct[0]


class Visits(ServiceBase):
    """``checkin``, ``checkin_photo``, ``list_visits``."""

    def _travel_flag(
        self, conn: Connection, w: Worker, h: Household, pos: Fix | None, now: int
    ) -> bool:
        """Did the worker's previous check-in (another door) imply impossible travel?"""
        prev = conn.execute(
            select(visits.c.household_id, visits.c.at, visits.c.lat, visits.c.lon)
            .where(visits.c.worker_id == w.id, visits.c.at <= now)
            .order_by(visits.c.at.desc(), visits.c.id.desc())
            .limit(1)
        ).first()
        if prev is None or prev.household_id == h.id:
            return False
        dt = now - prev.at
        here = (h.lat, h.lon) if h.lat is not None else (pos[:2] if pos else None)
        ph = conn.execute(
            select(households.c.lat, households.c.lon).where(households.c.id == prev.household_id)
        ).first()
        there = (
            (ph.lat, ph.lon)
            if ph is not None and ph.lat is not None
            else ((prev.lat, prev.lon) if prev.lat is not None else None)
        )
        if here and there and here[0] is not None and there[0] is not None:
            dist = haversine_m(here[0], here[1], there[0], there[1])  # type: ignore[arg-type]
            return bool(dist > 50 and dist / max(dt, 1) > MAX_SPEED_MPS)
        return bool(dt < MIN_GAP_SECS)

    def _flags(
        self,
        conn: Connection,
        w: Worker,
        h: Household,
        pos: Fix | None,
        photo_hash: str | None,
        now: int,
    ) -> list[str]:
        flags: list[str] = []
        if not self._covers(conn, w, h.village_id, h.worker_id):
            flags.append("not_linked")
        if pos and h.lat is not None and h.lon is not None:
            if haversine_m(pos[0], pos[1], h.lat, h.lon) - (pos[2] or 0.0) > GPS_FAR_M:
                flags.append("gps_far")
        if self._travel_flag(conn, w, h, pos, now):
            flags.append("impossible_travel")
        if photo_hash is not None:
            dup = conn.execute(
                select(visits.c.id).where(visits.c.photo_sha256 == photo_hash).limit(1)
            ).scalar()
            if dup is not None:
                flags.append("duplicate_photo")
        recent = conn.execute(
            select(func.count())
            .select_from(visits)
            .where(visits.c.worker_id == w.id, visits.c.at > now - BURST_WINDOW, visits.c.at <= now)
        ).scalar_one()
        if recent + 1 >= BURST_COUNT:
            flags.append("burst")
        return flags

    def checkin(
        self,
        worker_id: str,
        token: str,
        *,
        gps: str | tuple[float, ...] | None = None,
        photo: bytes | None = None,
        at: int | None = None,
    ) -> dict[str, Any]:
        """A worker checks in at a household by scanning its plate. Implausible check-ins are
        recorded with flags (impossible_travel, gps_far, duplicate_photo, burst, not_linked).
        Returns the visit as a dict (``flags`` a list)."""
        pos = parse_gps(gps)
        now = self._time(at)
        photo_hash = hashlib.sha256(photo).hexdigest() if photo else None
        with self.db.write() as conn:
            w = self._worker(conn, worker_id)
            v, h = self._verify_chip(conn, token)
            town, district = self._chain(conn, h.village_id)
            flags = self._flags(conn, w, h, pos, photo_hash, now)
            row: dict[str, Any] = {
                "worker_id": w.id,
                "household_id": h.id,
                "grid_id": h.grid_id,
                "village_id": h.village_id,
                "town_id": town,
                "district_id": district,
                "at": now,
                "lat": pos[0] if pos else None,
                "lon": pos[1] if pos else None,
                "accuracy": pos[2] if pos else None,
                "photo_sha256": photo_hash,
                "chip_serial": v.claims.serial,
                "flags": ",".join(flags),
            }
            pk = conn.execute(insert(visits).values(**row)).inserted_primary_key
            assert pk is not None
            row["id"] = int(pk[0])
            audit.append(conn, "visit.checkin", str(Actor.worker(w.id)), now, after=row)
        return Visit(**row).to_dict()

    def checkin_photo(
        self,
        worker_id: str,
        image: Any,
        *,
        gps: str | tuple[float, ...] | None = None,
        at: int | None = None,
    ) -> dict[str, Any]:
        """Check in with a photo of the plate: the chip is read from it (chipkit.scan), and the
        photo's bytes feed the duplicate-photo check."""
        token = token_from_photo(image)
        photo = Path(image).read_bytes() if isinstance(image, (str, Path)) else None
        if isinstance(image, (bytes, bytearray)):
            photo = bytes(image)
        return self.checkin(worker_id, token, gps=gps, photo=photo, at=at)  # type: ignore[arg-type]

    def list_visits(
        self, *, worker_id: str | None = None, flagged: bool = False, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Check-ins, newest first (an unknown ``worker_id`` is NotFound)."""
        q = select(visits)
        if flagged:
            q = q.where(visits.c.flags != "")
        q = q.order_by(visits.c.at.desc(), visits.c.id.desc()).limit(max(1, min(int(limit), 10000)))
        with self.db.read() as conn:
            if worker_id:
                self._worker(conn, worker_id, active=False)
                q = q.where(visits.c.worker_id == worker_id)
            return [from_row(Visit, r).to_dict() for r in conn.execute(q).mappings()]
