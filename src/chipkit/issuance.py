"""Single plates and revocations that keep the keyring and the issuance ledger in step.

``chipkit seal`` and ``chipkit revoke`` go through here, never around the ledger
(``issued.jsonl`` in the keyring directory, ``chipkit.plates.ledger``):

- ``seal_recorded`` mints one chip and records it in the ledger like any plate; a
  household that already holds a live plate is refused unless ``reissue``, which
  revokes the old serial.
- ``revoke_checked`` revokes only serials the ledger knows were issued (a typo is
  refused, naming it), or every live serial of a household, and records the
  revocation in the ledger (so the next plates run issues that household a new plate).

This module sits above the keyring (``chipkit.keys``) and the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from chipkit import token as tk
from chipkit.errors import IssuanceError, MalformedToken
from chipkit.keys import Keyring, KeyUse
from chipkit.plates.ledger import Ledger
from chipkit.token import Claims

SEAL_BATCH = "seal"  # the ledger's batch name for plates made by `chipkit seal`
REVOKE_BATCH = "revoke"  # ... and for revocations made by `chipkit revoke`


@dataclass(frozen=True)
class IssuedPlate:
    """A serial the ledger records as issued, and to whom."""

    serial: int
    household_id: str
    village: str


@dataclass(frozen=True)
class Sealed:
    text: str
    claims: Claims
    superseded: int | None = None  # the serial revoked by a reissue


@dataclass
class Revocation:
    revoked: list[IssuedPlate] = field(default_factory=list)
    already: list[int] = field(default_factory=list)


def issued_plates(ledger: Ledger) -> dict[int, IssuedPlate]:
    """Every serial the ledger records as issued (plates and sealed chips)."""
    out: dict[int, IssuedPlate] = {}
    for rec in ledger.records():
        serial = rec.get("serial")
        if rec.get("event") != "issued" or not isinstance(serial, int):
            continue
        out[serial] = IssuedPlate(serial, str(rec.get("household_id", "")), str(rec["village"]))
    return out


def village_key_use(ledger: Ledger, village: str) -> KeyUse:
    """The read and signing key ids of every plate the ledger issued for ``village``.

    For ``Keyring.export_verifier(village=..., used=...)``: a village bundle then
    carries only the default read keys and signing keys its plates were sealed with.
    """
    reads: set[int] = set()
    signs: set[int] = set()
    for rec in ledger.records():
        if rec.get("event") != "issued" or rec.get("village") != village:
            continue
        try:
            env = tk.split(tk.from_text(str(rec.get("token", ""))))
        except MalformedToken:
            continue
        reads.add(env.read_kid)
        signs.add(env.sign_kid)
    return KeyUse(frozenset(reads), frozenset(signs))


def live_serials(ledger: Ledger, keyring: Keyring, household_id: str) -> list[int]:
    """Serials issued to a household and not revoked, oldest first."""
    revoked = keyring.revoked
    return sorted(
        p.serial
        for p in issued_plates(ledger).values()
        if p.household_id == household_id and p.serial not in revoked
    )


def seal_recorded(
    keyring: Keyring,
    household_id: str,
    village: str,
    *,
    expires: date | None = None,
    url_prefix: str | None = None,
    reissue: bool = False,
) -> Sealed:
    """Seal one chip and record it in the ledger; refuse a second live chip unless reissue."""
    with Ledger(keyring.path) as ledger:
        live = live_serials(ledger, keyring, household_id)
        if live and not reissue:
            raise IssuanceError(
                f"household {household_id} already has a live plate (serial "
                f"{', '.join(map(str, live))}): reprint it, or `chipkit seal --reissue` "
                "to revoke it and mint a new one"
            )
        text, claims = keyring.seal(household_id, village, expires=expires, url_prefix=url_prefix)
        row = {**claims.to_dict(), "status": "reissued" if live else "issued"}
        ledger.append(
            [
                {
                    "event": "issued",
                    "batch": SEAL_BATCH,
                    "serial": claims.serial,
                    "household_id": household_id,
                    "village": village,
                    "token": text,
                    "row": row,
                }
            ]
        )
        if live:
            old = [IssuedPlate(s, household_id, village) for s in live]
            _revoke(ledger, keyring, old, f"reissued (seal, serial {claims.serial})", SEAL_BATCH)
        return Sealed(text, claims, live[-1] if live else None)


def revoke_checked(
    keyring: Keyring,
    serials: Iterable[int],
    reason: str,
    *,
    households: Iterable[str] = (),
    allow_unlisted: bool = False,
) -> Revocation:
    """Revoke issued serials and every live serial of ``households``.

    IssuanceError, before anything is revoked, for a serial the ledger never issued
    or a household with no live plate. ``allow_unlisted`` also accepts serials the
    keyring reserved but the ledger does not list (chips made before the ledger).
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a revocation needs a reason (lost, replaced, moved out, ...)")
    with Ledger(keyring.path) as ledger:
        issued = issued_plates(ledger)
        wanted = list(dict.fromkeys(serials))
        if allow_unlisted:
            for s in wanted:
                if s not in issued and 1 <= s < keyring.next_serial:
                    issued[s] = IssuedPlate(s, "", "")
        unknown = [s for s in wanted if s not in issued]
        if unknown:
            raise IssuanceError(
                f"serial {', '.join(map(str, unknown))} was never issued by this keyring "
                "(not in its ledger, issued.jsonl): nothing revoked"
            )
        plates = [issued[s] for s in wanted]
        for hid in dict.fromkeys(households):
            live = live_serials(ledger, keyring, hid)
            if not live:
                raise IssuanceError(f"household {hid} has no live plate: nothing revoked")
            plates += [issued[s] for s in live if s not in wanted]
        result = Revocation()
        done = set(_revoke(ledger, keyring, plates, reason.strip(), REVOKE_BATCH))
        for p in plates:
            if p.serial in done:
                result.revoked.append(p)
            else:
                result.already.append(p.serial)
        return result


def _revoke(
    ledger: Ledger, keyring: Keyring, plates: list[IssuedPlate], reason: str, batch: str
) -> list[int]:
    """Revoke in the keyring (what verifiers learn), then record it in the ledger."""
    villages = {p.serial: p.village for p in plates if p.village}
    new = keyring.revoke([p.serial for p in plates], reason, villages=villages)
    fresh = set(new)
    ledger.append(
        [
            {
                "event": "revoked",
                "batch": batch,
                "serial": p.serial,
                "household_id": p.household_id,
                "reason": reason,
            }
            for p in plates
            if p.serial in fresh
        ]
    )
    return new


__all__ = [
    "IssuanceError",
    "IssuedPlate",
    "Revocation",
    "Sealed",
    "issued_plates",
    "live_serials",
    "village_key_use",
    "revoke_checked",
    "seal_recorded",
]
