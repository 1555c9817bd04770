"""Batch issuing: register rows in, plate files + manifest + ledger records out.

Flow of :func:`run_batch` (all steps are crash-safe; a re-run completes a batch):

1. lock the keyring's ledger (one batch per keyring at a time), resume or start the
   batch journal in OUT (``.chipkit-batch.json``), remove OUT's stale manifest;
2. recover what an interrupted run left (:mod:`chipkit.plates.recovery`);
3. plan every household: ``existing`` (live plate already in OUT), ``reprint`` (live
   plate, same token, file missing here), ``mint`` (no live plate, or ``reissue``);
4. render in chunks (:mod:`chipkit.plates.pool`: one PDF part or a few dozen PNG/SVG
   files per chunk, at most 2 chunks per worker in flight: memory stays flat); for each
   chunk, ``intent`` records are written before it is dispatched and ``issued`` records
   after its files exist; superseded serials are revoked then;
5. write ``manifest.json``, ``manifest.csv`` and ``rejected.csv`` atomically at the end.

:func:`check_register` is the dry run (``chipkit plates --check``): every bad row, no
serial spent, nothing written but the report.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Any

from chipkit import token as tk
from chipkit.fonts import CJKFont, find_cjk_font
from chipkit.plates.carriers import get_carrier
from chipkit.plates.files import BatchError, cleanup_partials, inside, safe_filename, write_atomic
from chipkit.plates.ledger import Ledger, LedgerState
from chipkit.plates.manifest import (
    MANIFEST_CSV,
    MANIFEST_JSON,
    PARTIAL,
    REJECTED_CSV,
    ManifestHead,
    csv_safe,
    write_manifests,
    write_rejected,
)
from chipkit.plates.pool import run_jobs
from chipkit.plates.records import (
    EXISTING,
    ISSUED,
    MANIFEST_FIELDS,
    REISSUED,
    REPRINTED,
    Job,
    PlanItem,
    WorkerConfig,
)
from chipkit.plates.recovery import RevokingKeyring, confirm, intent_for, recover
from chipkit.register import Household, Register, RowProblem

FORMATS = ("pdf", "png", "svg")
JOURNAL = ".chipkit-batch.json"
VILLAGE_CHANGED = "village_changed"


@dataclass
class BatchOptions:
    out: Path
    fmt: str = "pdf"
    carrier: str = "snowflake"  # the default since issue 14; "qr" for stock phone cameras
    ec_level: str = "Q"
    sheet: str = "a4"
    dpi: int = 300
    reissue: bool = False
    url_prefix: str | None = None
    issued: date | None = None  # default: today's UTC date
    expires: date | None = None
    show_head: bool = False
    show_household_id: bool = False
    jobs: int | None = None
    plates_per_pdf: int = 1000
    files_per_chunk: int = 32
    font: CJKFont | None = None
    pdf_vector: bool = False  # QR modules as vector paths in PDFs (default: 1-bit image mask)
    register_sheet: str | None = None  # the XLSX worksheet the register was read from


@dataclass
class BatchResult:
    batch: str
    out: Path
    manifest_json: Path
    manifest_csv: Path
    counts: dict[str, int]
    problems: list[RowProblem]
    files: int
    seconds: float
    recovered: dict[str, int] = field(default_factory=dict)
    worker_cpu_seconds: float = 0.0  # CPU time spent rendering, all workers together
    worker_peak_rss_mb: float = 0.0  # the largest worker's peak resident memory
    rejected_csv: Path | None = None

    @property
    def plates(self) -> int:
        return sum(
            v for k, v in self.counts.items() if k in (ISSUED, REISSUED, REPRINTED, EXISTING)
        )

    @property
    def rejected(self) -> int:
        return len(self.problems)


# ------------------------------------------------------------------ preparing


def _check_options(opts: BatchOptions) -> tuple[CJKFont, int]:
    """Refuse bad options before anything is touched; -> (font, plates per chunk)."""
    if opts.fmt not in FORMATS:
        raise BatchError(f"unknown format {opts.fmt!r} (pdf, png or svg)")
    if opts.fmt == "png" and not 72 <= opts.dpi <= 2400:
        raise BatchError("--dpi must be between 72 and 2400")
    if opts.url_prefix is not None:
        tk.check_url_prefix(opts.url_prefix)
        if opts.carrier != "qr":  # a snowflake holds the binary chip: no URL to open
            raise BatchError(
                f"--url-prefix needs --carrier qr (a {opts.carrier} symbol carries the "
                "binary chip, not a URL a phone camera could open)"
            )
    get_carrier(opts.carrier, ec_level=opts.ec_level)  # CarrierUnavailable early
    font = opts.font or find_cjk_font()
    if opts.fmt != "pdf":
        return font, max(1, opts.files_per_chunk)
    from chipkit.plates.writers import register_pdf_font, sheet_grid

    register_pdf_font(font)
    per_page = sheet_grid(opts.sheet).per_page
    return font, max(per_page, opts.plates_per_pdf // per_page * per_page)


def _out_folder(opts: BatchOptions) -> Path:
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise BatchError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


def _journal(out: Path, register: Register, opts: BatchOptions) -> dict[str, Any]:
    """Resume this register's unfinished batch in OUT, or start a new one."""
    path = out / JOURNAL
    with contextlib.suppress(FileNotFoundError, ValueError):
        j = json.loads(path.read_text("utf-8"))
        if (
            isinstance(j, dict)
            and not j.get("complete")
            and j.get("register_sha256") == register.sha256
            and j.get("format") == opts.fmt
        ):
            return j
    j = {
        "batch": uuid.uuid4().hex[:10],
        "register": str(register.path),
        "register_sha256": register.sha256,
        "format": opts.fmt,
        "reissue": opts.reissue,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "complete": False,
    }
    _save_journal(out, j)
    return j


def _save_journal(out: Path, journal: dict[str, Any]) -> None:
    write_atomic(out / JOURNAL, [json.dumps(journal, ensure_ascii=False, indent=1) + "\n"])


def _village_changed(h: Household, live_serial: int, live_village: str) -> RowProblem:
    return RowProblem(
        h.row,
        "village_code",
        VILLAGE_CHANGED,
        f"household {h.household_id} holds live plate serial {live_serial} for "
        f"village {live_village}; use --reissue to replace it",
        h.household_id,
    )


# ------------------------------------------------------------------ one batch run


class _Batch:
    """The state of one run: what is planned, counted and written so far."""

    def __init__(
        self, register: Register, keyring: RevokingKeyring, opts: BatchOptions, out: Path
    ) -> None:
        self.register, self.keyring, self.opts, self.out = register, keyring, opts, out
        self.problems = list(register.problems)
        self.counts = {ISSUED: 0, REISSUED: 0, REPRINTED: 0, EXISTING: 0}
        self.files = 0
        self.worker_cpu, self.worker_rss = 0.0, 0.0

    def plan(self, state: LedgerState, batch: str, partial: IO[str]) -> list[PlanItem]:
        """One :class:`PlanItem` per household still to render (existing plates: counted)."""
        plan: list[PlanItem] = []
        for h in self.register.households:
            live = state.live.get(h.household_id)
            if live is None:  # a revoked plate's files left in OUT go when this one exists
                old = tuple(state.revoked_files.get(h.household_id, ()))
                plan.append(PlanItem(h, ISSUED, superseded_files=old))
            elif live.village != h.village_code and not self.opts.reissue:
                self.problems.append(_village_changed(h, live.serial, live.village))
            elif not self.opts.reissue or live.batch == batch:
                item = self._keep_live(h, live.files, live.row, live.batch == batch, partial)
                if item is not None:
                    item.serial, item.token = live.serial, live.token
                    plan.append(item)
            else:
                plan.append(
                    PlanItem(
                        h,
                        REISSUED,
                        supersedes=live.serial,
                        superseded_village=live.village,
                        superseded_files=tuple(live.files),
                    )
                )
        mint = [p for p in plan if p.serial == 0]
        for p, s in zip(mint, self.keyring.reserve_serials(len(mint)) if mint else [], strict=True):
            p.serial = s
        return plan

    def _keep_live(
        self,
        h: Household,
        files: list[str],
        row: dict[str, Any],
        this_batch: bool,
        partial: IO[str],
    ) -> PlanItem | None:
        """A household with a live plate: already in OUT (None), or rendered again."""
        suffix = "." + self.opts.fmt
        here = [
            f
            for f in files
            if Path(f).parent == self.out and f.endswith(suffix) and Path(f).exists()
        ]
        if here and row and not row.get("adopted"):
            partial.write(
                json.dumps(dict(row, status=EXISTING, file=Path(here[-1]).name), ensure_ascii=False)
                + "\n"
            )
            self.counts[EXISTING] += 1
            return None
        # adopted from an interrupted run of this batch: render it as issued
        adopted = bool(row.get("adopted")) and this_batch
        supersedes = row.get("supersedes") if adopted else None
        status = (REISSUED if supersedes else ISSUED) if adopted else REPRINTED
        return PlanItem(h, status, issued=row.get("issued"), supersedes=supersedes)

    def chunks(self, plan: list[PlanItem], batch: str, part_size: int) -> list[Job]:
        jobs: list[Job] = []
        part_no = 0
        taken = {p.name for p in self.out.glob(f"plates-{batch}-*.pdf")}
        for i in range(0, len(plan), part_size):
            job = Job(plan[i : i + part_size])
            if self.opts.fmt == "pdf":
                while True:
                    part_no += 1
                    name = f"plates-{batch}-{part_no:03d}.pdf"
                    if name not in taken:
                        break
                job.part, job.label = name, f"batch {batch} part {part_no}"
            else:
                for it in job.items:
                    it.file = safe_filename(it.household.household_id, it.serial, self.opts.fmt)
                    inside(self.out, it.file)
            jobs.append(job)
        return jobs

    def render(
        self,
        ledger: Ledger,
        jobs: list[Job],
        cfg: WorkerConfig,
        partial: IO[str],
        progress: Callable[[int, int], None] | None,
    ) -> None:
        """Render every chunk; record each in the ledger once its files exist. ``progress``
        counts the batch's plates: those already in OUT (an interrupted run's) are done."""
        issuer = self.keyring.issuer()
        done = self.counts[EXISTING]
        total = done + sum(len(j.items) for j in jobs)
        if progress:
            progress(done, total)

        def before_dispatch(job: Job) -> None:
            ledger.append(intent_for(job, cfg, issuer))

        for job, res in run_jobs(jobs, issuer, cfg, self.opts.jobs, before_dispatch):
            self.files += res.files
            self.worker_cpu += res.cpu_s
            self.worker_rss = max(self.worker_rss, res.rss_mb)
            confirm(ledger, self.keyring, self.out, cfg.batch, job, res)
            for row in res.rows:
                self.counts[row.status] += 1
                partial.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
            done += len(res.rows)
            if progress:
                progress(done, total)
        partial.flush()


def _worker_config(opts: BatchOptions, out: Path, font: CJKFont, batch: str) -> WorkerConfig:
    return WorkerConfig(
        out=str(out),
        fmt=opts.fmt,
        carrier=opts.carrier,
        ec_level=opts.ec_level,
        sheet=opts.sheet,
        dpi=opts.dpi,
        issued=opts.issued or tk.today_utc(),  # the one calendar: UTC
        expires=opts.expires,
        url_prefix=opts.url_prefix,
        show_head=opts.show_head,
        show_household_id=opts.show_household_id,
        pdf_vector=opts.pdf_vector,
        font=font,
        batch=batch,
    )


def run_batch(
    register: Register,
    keyring: RevokingKeyring,
    options: BatchOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Issue plates for every good row of ``register`` into ``options.out``.

    ``progress(done, total)``: plates in OUT so far, of all the batch will hold (plates an
    interrupted run already left there count as done from the start)."""
    t0 = time.perf_counter()
    opts = options
    font, part_size = _check_options(opts)
    out = _out_folder(opts)
    run = _Batch(register, keyring, opts, out)
    with Ledger(keyring.path) as ledger:
        journal = _journal(out, register, opts)
        batch = str(journal["batch"])
        for name in (MANIFEST_JSON, MANIFEST_CSV, REJECTED_CSV, PARTIAL):
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
        cleanup_partials(out)
        recovered = recover(ledger, keyring, keyring.issuer())
        with (out / PARTIAL).open("w", encoding="utf-8") as partial:
            plan = run.plan(ledger.state(), batch, partial)
            jobs = run.chunks(plan, batch, part_size)
            run.render(ledger, jobs, _worker_config(opts, out, font, batch), partial, progress)
        result = BatchResult(
            batch,
            out,
            out / MANIFEST_JSON,
            out / MANIFEST_CSV,
            run.counts,
            run.problems,
            run.files,
            0.0,
            recovered.to_dict(),
            run.worker_cpu,
            run.worker_rss,
            out / REJECTED_CSV,
        )
        _finish(out, register, opts, result, journal)
    result.seconds = time.perf_counter() - t0
    return result


def _finish(
    out: Path, register: Register, opts: BatchOptions, res: BatchResult, journal: dict[str, Any]
) -> None:
    """Manifests and rejected.csv, then the journal is marked complete."""
    write_rejected(out / REJECTED_CSV, register, res.problems, opts.register_sheet)
    head = ManifestHead(
        res.batch,
        register,
        opts.fmt,
        opts.carrier,
        opts.ec_level,
        opts.sheet,
        opts.dpi,
        opts.pdf_vector,
        res.counts,
        res.problems,
    )
    write_manifests(out, head)
    (out / PARTIAL).unlink()
    journal["complete"] = True
    journal["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _save_journal(out, journal)


# ------------------------------------------------------------------ dry run


@dataclass
class CheckResult:
    households: int  # rows that would get a plate
    problems: list[RowProblem]
    rejected_csv: Path | None = None


def check_register(
    register: Register,
    keyring_dir: Path | None = None,
    *,
    reissue: bool = False,
    report_dir: Path | None = None,
    sheet: str | None = None,
) -> CheckResult:
    """The dry run: every row a batch would reject, without spending a serial or writing a
    plate. With ``keyring_dir`` the ledger is read too (households whose live plate is for
    another village); with ``report_dir`` the one file written is ``rejected.csv`` there."""
    problems = list(register.problems)
    good = len(register.households)
    if keyring_dir is not None and not reissue:
        live = Ledger(keyring_dir).state().live  # read only: no lock, nothing appended
        for h in register.households:
            plate = live.get(h.household_id)
            if plate is not None and plate.village != h.village_code:
                problems.append(_village_changed(h, plate.serial, plate.village))
                good -= 1
    problems.sort(key=lambda p: p.row)
    res = CheckResult(good, problems)
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        res.rejected_csv = report_dir / REJECTED_CSV
        write_rejected(res.rejected_csv, register, problems, sheet)
    return res


__all__ = [
    "FORMATS",
    "MANIFEST_FIELDS",
    "BatchError",
    "BatchOptions",
    "BatchResult",
    "CheckResult",
    "check_register",
    "csv_safe",
    "inside",
    "run_batch",
    "safe_filename",
]
