"""Typed records of the cases tables (one frozen dataclass per row kind).

The service works on these; its public methods still return plain dicts (``to_dict()``)
so that the CLI, JSON output and the HTTP service keep one stable shape.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

R = TypeVar("R")

_BOOLS = ("ever_resolved", "breach_accept", "breach_resolve", "solved", "resident_confirmed")


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return names


def from_row(cls: type[R], row: Mapping[Any, Any]) -> R:
    """A record from a database row (extra columns are ignored)."""
    try:
        return cls(**row)  # the usual case: the select's columns are the record's fields
    except TypeError:
        present = set(row.keys())
        return cls(**{n: row[n] for n in _field_names(cls) if n in present})


@dataclass(frozen=True)
class Unit:
    id: str
    kind: str  # district | town | village | grid
    name: str
    parent_id: str | None


@dataclass(frozen=True)
class Worker:
    id: str
    name: str
    role: str  # grid | village | town | district
    unit_id: str
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Household:
    id: str
    village_id: str
    grid_id: str
    worker_id: str | None
    address: str
    lat: float | None
    lon: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CaseType:
    code: str
    name: str
    accept_secs: int
    resolve_secs: int
    rating_secs: int


@dataclass(frozen=True)
class Case:
    """One ck_cases row. ``details`` and ``evidence`` are the stored JSON texts."""

    id: int
    type: str
    state: str
    version: int
    household_id: str
    worker_id: str | None
    level: str
    grid_id: str
    village_id: str
    town_id: str
    district_id: str
    channel: str
    created_by: str
    chip_serial: int | None
    title: str
    description: str
    details: str
    created_at: int
    accepted_at: int | None = None
    resolved_at: int | None = None
    closed_at: int | None = None
    accept_secs: int | None = None
    resolve_secs: int | None = None
    paused_secs: int = 0
    paused_since: int | None = None
    reopen_count: int = 0
    ever_resolved: bool = False
    breach_accept: bool = False
    breach_resolve: bool = False
    rating: int | None = None
    solved: bool | None = None
    resident_confirmed: bool = False
    resolution_note: str | None = None
    evidence: str | None = None
    reject_reason: str | None = None
    duplicate_of: int | None = None
    # not a column: whether the assigned worker is active (loaded with the case)
    worker_active: bool | None = dataclasses.field(default=None, compare=False)

    def columns(self) -> dict[str, Any]:
        """The row as column -> value (what the audit trail records)."""
        out = dict(self.__dict__)  # asdict() would deep-copy every value
        del out["worker_active"]
        return out

    def with_changes(self, changes: Mapping[str, Any], version: int) -> Case:
        """A copy with ``changes`` (column names only) and the new version. On the hot
        path of every transition: a shallow copy, not ``dataclasses.replace``."""
        unknown = changes.keys() - _COLUMN_SET
        if unknown:
            raise TypeError(f"not case columns: {sorted(unknown)}")
        new = object.__new__(Case)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        new.__dict__["version"] = version
        return new

    def to_dict(self, *, private: bool = True) -> dict[str, Any]:
        """The case as the service returns it: JSON fields parsed; dispute parties hidden
        unless ``private``."""
        out = self.columns()
        out["details"] = json.loads(self.details) if self.details else {}
        if self.evidence is not None:
            out["evidence"] = json.loads(self.evidence)
        for k in _BOOLS:
            if out[k] is not None:
                out[k] = bool(out[k])
        if not private and self.type == "dispute":
            out["details"] = {"parties": "(private)"}
        return out


CASE_COLUMNS = tuple(f.name for f in fields(Case) if f.name != "worker_active")
_COLUMN_SET = frozenset(CASE_COLUMNS)


@dataclass(frozen=True)
class Visit:
    id: int
    worker_id: str
    household_id: str
    grid_id: str
    village_id: str
    town_id: str
    district_id: str
    at: int
    lat: float | None
    lon: float | None
    accuracy: float | None
    photo_sha256: str | None
    chip_serial: int | None
    flags: str  # comma-separated

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["flags"] = [f for f in self.flags.split(",") if f]
        return out


@dataclass(frozen=True)
class Notice:
    id: int
    unit_id: str
    title: str
    body: str
    posted_by: str
    posted_at: int
    expires_at: int | None
    withdrawn: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
