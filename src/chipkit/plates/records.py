"""Typed records passed between the batch process and its workers.

:class:`PlanItem` one household's plate to render; :class:`Job` a chunk of them (one
PDF part, or a few dozen PNG/SVG files); :class:`WorkerConfig` what every worker needs;
:class:`PlateRow` one manifest row; :class:`ChunkResult` what a worker sends back.
All are plain dataclasses (picklable: they cross the process boundary).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chipkit.fonts import CJKFont
from chipkit.register import Household

ISSUED, REISSUED, REPRINTED, EXISTING = "issued", "reissued", "reprinted", "existing"


@dataclass(frozen=True)
class WorkerConfig:
    out: str
    fmt: str
    carrier: str
    ec_level: str
    sheet: str
    dpi: int
    issued: date
    expires: date | None
    url_prefix: str | None
    show_head: bool
    show_household_id: bool
    pdf_vector: bool
    font: CJKFont
    batch: str
    batch_pid: int | None = None  # set for pool workers: they must die with this process


@dataclass
class PlanItem:
    household: Household
    status: str  # ISSUED | REISSUED | REPRINTED
    serial: int = 0  # 0: to be minted (a fresh serial is reserved for it)
    token: str | None = None  # a live plate rendered again: its token
    issued: str | None = None  # ... and its issue date
    supersedes: int | None = None
    superseded_village: str = ""  # the superseded plate's village (its bundle's revocation)
    superseded_files: tuple[str, ...] = ()
    file: str = ""  # PNG/SVG: the file name in OUT

    @property
    def mints(self) -> bool:
        return self.status in (ISSUED, REISSUED)

    def wire(self) -> PlanItem:
        """The form sent to a worker (without the batch-side file list)."""
        return dataclasses.replace(self, superseded_files=(), superseded_village="")


@dataclass
class Job:
    items: list[PlanItem]
    part: str | None = None  # PDF: the part's file name
    label: str = ""

    def wire(self) -> Job:
        return Job([it.wire() for it in self.items], self.part, self.label)


MANIFEST_FIELDS = [
    "household_id",
    "village",
    "village_name",
    "house_no",
    "status",
    "serial",
    "supersedes",
    "file",
    "page",
    "slot",
    "token_sha256",
    "sign_kid",
    "read_kid",
    "carrier",
    "symbol",
    "ec_level",
    "modules",
    "symbol_mm",
    "module_mm",
    "module_px",
    "dpi",
    "issued",
    "expires",
    "batch",
    "register_row",
]


@dataclass
class PlateRow:
    """One row of manifest.json / manifest.csv (fields in :data:`MANIFEST_FIELDS` order)."""

    household_id: str
    village: str
    village_name: str
    house_no: str
    status: str
    serial: int
    supersedes: int | None
    file: str
    page: int | None
    slot: int | None
    token_sha256: str
    sign_kid: int
    read_kid: int
    carrier: str
    symbol: str
    ec_level: str
    modules: int
    symbol_mm: float
    module_mm: float
    module_px: float | None
    dpi: int | None
    issued: str | None
    expires: str | None
    batch: str
    register_row: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ChunkResult:
    rows: list[PlateRow]
    tokens: list[str]  # the chip text of each row (kept out of the manifest)
    part: str | None = None
    cpu_s: float = 0.0
    rss_mb: float = 0.0
    files: int = field(default=0)


assert [f.name for f in dataclasses.fields(PlateRow)] == MANIFEST_FIELDS

__all__ = [
    "EXISTING",
    "ISSUED",
    "MANIFEST_FIELDS",
    "REISSUED",
    "REPRINTED",
    "ChunkResult",
    "Job",
    "PlanItem",
    "PlateRow",
    "WorkerConfig",
]
