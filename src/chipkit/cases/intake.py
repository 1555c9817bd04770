"""Intake: a resident's request by chip, or a worker filing for a household."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert

from chipkit.cases import audit
from chipkit.cases.base import Actor, ServiceBase, clean_text
from chipkit.cases.errors import BadInput, WrongActor
from chipkit.cases.models import cases
from chipkit.cases.records import Case, Household
from chipkit.cases.states import CASE_TYPES, SEVERITIES, SUBMITTED

MAX_TITLE = 200
MAX_DESCRIPTION = 4000

_FIELDS: dict[str, set[str]] = {
    "proxy": {"service"},
    "dispute": {"parties"},
    "hazard": {"severity", "location"},
    "event": {"category"},
    "other": set(),
}
_INSERT_CASE = insert(cases)


def validate_details(case_type: str, details: dict[str, Any] | None) -> dict[str, Any]:
    """Type-specific fields. dispute: parties (2-10 names); hazard: severity, location;
    proxy: service; event: category."""
    d = dict(details or {})
    allowed = _FIELDS[case_type]
    extra = set(d) - allowed
    if extra:
        raise BadInput(
            f"{case_type} cases take {', '.join(sorted(allowed)) or 'no extra fields'}; "
            f"not {', '.join(sorted(extra))}"
        )
    out: dict[str, Any] = {}
    if case_type == "dispute":
        parties = d.get("parties")
        if isinstance(parties, str):
            parties = [p for p in (x.strip() for x in parties.replace("，", ",").split(",")) if p]
        if not isinstance(parties, list) or not 2 <= len(parties) <= 10:
            raise BadInput("a dispute needs its parties: 2 to 10 names")
        out["parties"] = [clean_text(p, "party", 100, required=True) for p in parties]
    elif case_type == "hazard":
        sev = d.get("severity")
        if sev not in SEVERITIES:
            raise BadInput(f"a hazard needs a severity: one of {', '.join(SEVERITIES)}")
        out["severity"] = sev
        if d.get("location") is not None:
            out["location"] = clean_text(d["location"], "location", 200)
    else:
        for k in allowed:
            if d.get(k) is not None:
                out[k] = clean_text(d[k], k, 200)
    return out


class Intake(ServiceBase):
    """``submit``: open a case."""

    def _requester(
        self,
        conn: Connection,
        token: str | None,
        household_id: str | None,
        worker_id: str | None,
        credential: str | None = None,
    ) -> tuple[Household, int | None, str, str]:
        """(household, chip serial, channel, created_by) of who files the case."""
        if token is not None:
            if worker_id is not None or household_id is not None:
                raise BadInput("give either a chip token (resident) or worker + household")
            v, h = self._verify_chip(conn, token)
            return h, v.claims.serial, "chip", str(Actor.household(h.id))
        if credential is not None:
            if credential != "household" or household_id is None or worker_id is not None:
                raise BadInput('credential="household" goes with household_id alone')
            h = self._household(conn, household_id)
            return h, None, "household", str(Actor.household(h.id))
        if worker_id is None or household_id is None:
            raise BadInput("a case needs a scanned chip token, or a worker filing for a household")
        w = self._worker(conn, worker_id)
        h = self._household(conn, household_id)
        if not self._covers(conn, w, h.village_id, h.worker_id):
            raise WrongActor(
                f"worker {w.id} does not look after household {h.id} (its worker is {h.worker_id})"
            )
        return h, None, "worker", str(Actor.worker(w.id))

    def submit(
        self,
        case_type: str,
        title: str,
        description: str = "",
        details: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        household_id: str | None = None,
        worker_id: str | None = None,
        credential: str | None = None,
        at: int | None = None,
    ) -> dict[str, Any]:
        """Open a case: by the resident (``token``: a scanned chip that verifies; or
        ``household_id`` + ``credential="household"`` when the caller checked the household's
        own credential, its PIN or a phone registered with it) or by a worker on a resident's
        behalf (``worker_id`` + ``household_id``). The case goes to the household's linked
        worker. Returns the case as a dict (``Case.to_dict``)."""
        if case_type not in CASE_TYPES:
            raise BadInput(f"unknown case type {case_type!r}; one of {', '.join(CASE_TYPES)}")
        title = clean_text(title, "title", MAX_TITLE, required=True)
        description = clean_text(description, "description", MAX_DESCRIPTION)
        det = validate_details(case_type, details)
        now = self._time(at)
        with self.db.write() as conn:
            h, serial, channel, created_by = self._requester(
                conn, token, household_id, worker_id, credential
            )
            town, district = self._chain(conn, h.village_id)
            row: dict[str, Any] = {
                "type": case_type,
                "state": SUBMITTED,
                "version": 1,
                "household_id": h.id,
                "worker_id": h.worker_id,
                "level": "village",
                "grid_id": h.grid_id,
                "village_id": h.village_id,
                "town_id": town,
                "district_id": district,
                "channel": channel,
                "created_by": created_by,
                "chip_serial": serial,
                "title": title,
                "description": description,
                "details": json.dumps(det, ensure_ascii=False, sort_keys=True),
                "created_at": now,
                "paused_secs": 0,
                "reopen_count": 0,
                "ever_resolved": False,
                "breach_accept": False,
                "breach_resolve": False,
                "resident_confirmed": False,
            }
            pk = conn.execute(_INSERT_CASE, row).inserted_primary_key
            assert pk is not None
            row["id"] = int(pk[0])
            after = {k: v for k, v in row.items() if k != "version"}
            audit.append(conn, "case.submit", created_by, now, case_id=row["id"], after=after)
        return Case(**row).to_dict()
