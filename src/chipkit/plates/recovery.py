"""Ledger bookkeeping of a batch: confirming rendered chunks, revoking, and recovering
from an interrupted run.

:func:`recover` resolves what an interrupted run left behind, before anything new:

* an ``intent`` whose plate file exists is **adopted**: its token is re-sealed (identical,
  Ed25519 and AES-SIV are deterministic) and recorded as issued, and the file is removed
  so the plate is rendered again with a full manifest row. If the keys changed since, it
  cannot be re-sealed: the serial is revoked and the file deleted;
* an ``intent`` without a file is **voided** (the token never left memory);
* a **voided serial whose file appeared later** (a worker of a killed batch renamed it
  into place after the re-run had voided it) is revoked and its file deleted;
* a superseded serial not yet revoked (a ``--reissue`` cut short) is revoked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from chipkit import token as tk
from chipkit.keys import Issuer
from chipkit.plates.ledger import (
    Intent,
    Issued,
    Ledger,
    LedgerState,
    Record,
    Rendered,
    Revoked,
    Void,
)
from chipkit.plates.records import REPRINTED, ChunkResult, Job, WorkerConfig

ORPHAN_REASON = "interrupted batch: plate file written, keys changed since"
STRAGGLER_REASON = "interrupted batch: plate file appeared after its serial was voided"


class RevokingKeyring(Protocol):
    """What the batch needs of a keyring (:class:`chipkit.keys.Keyring`)."""

    @property
    def path(self) -> Path: ...

    def issuer(self) -> Issuer: ...

    def reserve_serials(self, n: int) -> range: ...

    def revoke(
        self, serials: list[int], reason: str, *, villages: Mapping[int, str] | None = None
    ) -> list[int]: ...


@dataclass
class Recovered:
    voided: int = 0
    adopted: int = 0
    revoked_orphans: int = 0
    revoked_superseded: int = 0
    revoked_stragglers: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def intent_for(job: Job, cfg: WorkerConfig, issuer: Issuer) -> list[Record]:
    """The ``intent`` records of a chunk's new plates (written before it is dispatched)."""
    out = Path(cfg.out)
    return [
        Intent(
            batch=cfg.batch,
            serial=it.serial,
            household_id=it.household.household_id,
            village=it.household.village_code,
            file=str(out / (job.part or it.file)),
            issued=it.issued or cfg.issued.isoformat(),
            expires=cfg.expires.isoformat() if cfg.expires else None,
            url_prefix=cfg.url_prefix,
            sign_kid=issuer.sign_kid,
            read_kid=issuer.read_kid_for(it.household.village_code),
            supersedes=it.supersedes,
        )
        for it in job.items
        if it.mints
    ]


def _unlink_plate_images(files: list[str] | tuple[str, ...], folder: Path) -> None:
    """Delete a revoked plate's PNG/SVG images in ``folder`` (never printed by mistake)."""
    for f in files:
        p = Path(f)
        if p.parent == folder and p.suffix in (".png", ".svg"):
            with contextlib.suppress(OSError):
                p.unlink()


def confirm(
    ledger: Ledger, keyring: RevokingKeyring, out: Path, batch: str, job: Job, res: ChunkResult
) -> None:
    """The chunk's files exist: record them, then revoke what they supersede."""
    recs: list[Record] = []
    supersede: list[tuple[int, int]] = []
    villages: dict[int, str] = {}
    by_serial = {it.serial: it for it in job.items}
    for row, token in zip(res.rows, res.tokens, strict=True):
        path = str(out / row.file)
        if row.status == REPRINTED:
            recs.append(Rendered(row.batch, row.serial, row.household_id, path, row.to_dict()))
            continue
        recs.append(
            Issued(row.batch, row.serial, row.household_id, row.village, token, path, row.to_dict())
        )
        it = by_serial[row.serial]
        if it.supersedes:
            supersede.append((it.supersedes, row.serial))
            villages[it.supersedes] = it.superseded_village or row.village
    ledger.append(recs)
    if supersede:
        revoke(ledger, keyring, supersede, f"reissued (batch {batch})", villages, batch)
    for it in job.items:  # revoked plates' images: gone once their replacement exists
        if it.mints and it.superseded_files:
            _unlink_plate_images(it.superseded_files, out)


def revoke(
    ledger: Ledger,
    keyring: RevokingKeyring,
    pairs: list[tuple[int, int]],
    reason: str,
    villages: Mapping[int, str],
    batch: str = "",
) -> None:
    """Revoke superseded serials: one keyring update for the whole group, then the ledger.
    ``villages`` (serial -> village) lets village-scoped bundles carry each revocation."""
    keyring.revoke([old for old, _ in pairs], reason, villages=villages)
    ledger.append(
        [Revoked(old, reason=reason, batch=batch, superseded_by=new) for old, new in pairs]
    )


def reseal(rec: Intent, issuer: Issuer) -> str | None:
    """The token an intent's plate carries, re-sealed (deterministic), or None if the keys changed."""
    if rec.sign_kid != issuer.sign_kid or rec.issued is None:
        return None
    if rec.read_kid != issuer.read_kid_for(rec.village):
        return None
    try:
        claims = tk.Claims(
            rec.household_id,
            rec.village,
            rec.serial,
            date.fromisoformat(rec.issued),
            date.fromisoformat(rec.expires) if rec.expires else None,
        )
        return issuer.seal(claims, rec.url_prefix)
    except (TypeError, ValueError):
        return None


def _adopt(ledger: Ledger, st: LedgerState, adopted: list[tuple[Intent, str]]) -> None:
    ledger.append(
        [
            Issued(
                rec.batch,
                rec.serial,
                rec.household_id,
                rec.village,
                token,
                None,
                {"adopted": True, "issued": rec.issued, "supersedes": rec.supersedes},
            )
            for rec, token in adopted
        ]
    )
    for rec, _ in adopted:  # an adopted reissue: its superseded image goes, as in confirm
        before = st.live.get(rec.household_id)
        if before is not None and before.serial == rec.supersedes:
            _unlink_plate_images(before.files, Path(rec.file).parent)


def _revoke_files(
    ledger: Ledger,
    keyring: RevokingKeyring,
    recs: list[tuple[int, str, str]],
    reason: str,
    villages: Mapping[int, str],
) -> None:
    """Revoke serials whose files must not be used, then delete the files."""
    if not recs:
        return
    serials = [serial for serial, _, _ in recs]
    keyring.revoke(serials, reason, villages={s: villages[s] for s in serials if s in villages})
    ledger.append([Revoked(serial, hid, reason) for serial, hid, _ in recs])
    for _, _, f in recs:
        with contextlib.suppress(OSError):
            Path(f).unlink()


def recover(ledger: Ledger, keyring: RevokingKeyring, issuer: Issuer) -> Recovered:
    """Resolve what an interrupted run left behind (see the module docstring)."""
    st = ledger.state()
    rep = Recovered()
    stragglers = [v for v in st.voided if v.file and Path(v.file).is_file()]
    _revoke_files(
        ledger,
        keyring,
        [(v.serial, v.household_id, v.file or "") for v in stragglers],
        STRAGGLER_REASON,
        st.villages,
    )
    rep.revoked_stragglers = len(stragglers)
    void: list[Intent] = []
    adopted: list[tuple[Intent, str]] = []
    orphans: list[Intent] = []
    for rec in st.dangling:
        if not rec.file or not Path(rec.file).exists():
            void.append(rec)
            continue
        token = reseal(rec, issuer)
        if token is None:
            orphans.append(rec)
        else:
            adopted.append((rec, token))
    if adopted:
        _adopt(ledger, st, adopted)
        for rec, _ in adopted:
            with contextlib.suppress(OSError):
                Path(rec.file).unlink()
    _revoke_files(
        ledger,
        keyring,
        [(r.serial, r.household_id, r.file) for r in orphans],
        ORPHAN_REASON,
        st.villages,
    )
    ledger.append([Void(r.serial, r.household_id, r.file or None) for r in void])
    st = ledger.state() if adopted else st
    if st.unrevoked_superseded:
        revoke(ledger, keyring, st.unrevoked_superseded, "reissued (recovery)", st.villages)
    rep.voided, rep.adopted, rep.revoked_orphans = len(void), len(adopted), len(orphans)
    rep.revoked_superseded = len(st.unrevoked_superseded)
    return rep


__all__ = ["Recovered", "RevokingKeyring", "confirm", "intent_for", "recover", "reseal", "revoke"]
