"""Batch issuing: register rows in, plate files + manifest + ledger records out.

Flow of :func:`run_batch` (all steps are crash-safe; a re-run completes a batch):

1. lock the keyring's ledger (one batch per keyring at a time), resume or start the
   batch journal in OUT (``.chipkit-batch.json``), remove OUT's stale manifest;
2. recover what an interrupted run left: an ``intent`` whose plate file exists is
   revoked and the file deleted, one whose file does not exist is voided; a
   superseded serial not yet revoked is revoked now;
3. plan every household: ``existing`` (live plate already in OUT), ``reprint`` (live
   plate, same token, file missing here), ``mint`` (no live plate, or ``reissue``);
4. render in chunks on a process pool (one PDF part or a few dozen PNG/SVG files per
   chunk, at most 2 chunks per worker in flight: memory stays flat); for each chunk,
   ``intent`` records are written before it is dispatched and ``issued`` records after
   its files exist; superseded serials are revoked then;
5. write ``manifest.json`` and ``manifest.csv`` atomically (temp + rename) at the end.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from chipkit import token as tk
from chipkit.errors import ChipkitError
from chipkit.fonts import CJKFont, find_cjk_font
from chipkit.plates import layout as L
from chipkit.plates.carriers import get_carrier
from chipkit.plates.ledger import Ledger
from chipkit.register import Household, Register, RowProblem

FORMATS = ("pdf", "png", "svg")
JOURNAL = ".chipkit-batch.json"
MANIFEST_JSON = "manifest.json"
MANIFEST_CSV = "manifest.csv"
PARTIAL = ".manifest.partial.jsonl"
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
VILLAGE_CHANGED = "village_changed"


class BatchError(ChipkitError):
    """A batch cannot run (bad options, unusable output folder, ...)."""


@dataclass
class BatchOptions:
    out: Path
    fmt: str = "pdf"
    carrier: str = "qr"
    ec_level: str = "Q"
    sheet: str = "a4"
    dpi: int = 300
    reissue: bool = False
    url_prefix: str | None = None
    issued: date | None = None
    expires: date | None = None
    show_head: bool = False
    show_household_id: bool = False
    jobs: int | None = None
    plates_per_pdf: int = 1000
    files_per_chunk: int = 32
    font: CJKFont | None = None
    pdf_vector: bool = False  # QR modules as vector paths in PDFs (default: 1-bit image mask)


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

    @property
    def plates(self) -> int:
        return sum(
            v
            for k, v in self.counts.items()
            if k in ("issued", "reissued", "reprinted", "existing")
        )

    @property
    def rejected(self) -> int:
        return len(self.problems)


# ------------------------------------------------------------------ helpers

_UNSAFE = re.compile(r"[^0-9A-Za-z-]")


def safe_filename(household_id: str, serial: int, ext: str) -> str:
    """A file name for a plate that can never leave its folder, whatever the id holds.

    Only ``[0-9A-Za-z-]`` survive, at most 40 of them; an id that had to be changed
    gets a short hash suffix so two different ids never share a name.
    """
    if not isinstance(household_id, str):
        raise TypeError("household_id must be a str")
    clean = _UNSAFE.sub("_", household_id)[:40].strip("_-") or "household"
    if clean != household_id:
        clean += "_" + hashlib.sha256(household_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{clean}-{int(serial):07d}.{ext}"


def inside(folder: Path, name: str) -> Path:
    """folder/name, refusing anything that would resolve outside ``folder``."""
    base = folder.resolve()
    p = (base / name).resolve()
    if p.parent != base or "\x00" in name:
        raise BatchError(f"refusing output name {name!r}: outside {base}")
    return p


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas: text starting with = + - @ TAB CR gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write_atomic(path: Path, chunks: Iterable[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------ worker side

_W: dict[str, Any] = {}


def _init_worker(issuer: Any, cfg: dict[str, Any]) -> None:
    from chipkit.plates import writers as W

    if cfg.get("parent_pid"):  # a pool worker: Ctrl-C is for the batch process to handle
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)

    font: CJKFont = cfg["font"]
    carrier = get_carrier(cfg["carrier"], ec_level=cfg["ec_level"], pdf_vector=cfg["pdf_vector"])
    _W.clear()
    _W.update(
        issuer=issuer,
        cfg=cfg,
        carrier=carrier,
        measure=L.Measurer(font.path, font.index),
        # the process that started this worker (the batch, or its forkserver): if it
        # dies, this worker is re-parented and must stop putting files in place
        parent=os.getppid() if cfg.get("parent_pid") else None,
    )
    if cfg["fmt"] == "png":
        _W["renderer"] = W.PngRenderer(font, cfg["dpi"], carrier)
    elif cfg["fmt"] == "svg":
        _W["renderer"] = W.SvgRenderer(font, carrier)


def _check_parent() -> None:
    """A worker whose batch process died must not put files in place (recovery owns them)."""
    parent = _W.get("parent")
    if parent is not None and os.getppid() != parent:
        raise SystemExit(1)


def _render_chunk(job: dict[str, Any]) -> dict[str, Any]:
    """Render one chunk: a PDF part or a group of PNG/SVG files. Returns manifest rows."""
    from chipkit.plates import writers as W

    cpu0 = time.process_time()
    cfg = _W["cfg"]
    issuer, carrier, measure = _W["issuer"], _W["carrier"], _W["measure"]
    out = Path(cfg["out"])
    rows = []
    pdf = None
    if cfg["fmt"] == "pdf":
        pdf = W.PdfSheetWriter(
            out / job["part"], cfg["font"], carrier, sheet=cfg["sheet"], label=job["label"]
        )
    try:
        for item in job["items"]:
            h = item["household"]
            if isinstance(h, dict):
                h = Household(**h)
            serial = item["serial"]
            if item.get("token"):
                text = item["token"]
                raw = tk.from_text(text)
            else:
                claims = tk.Claims(
                    h.household_id, h.village_code, serial, cfg["issued"], cfg["expires"]
                )
                raw = issuer.seal_bytes(claims)
                text = tk.to_text(raw, cfg["url_prefix"])
            sym = carrier.encode(text, raw)
            data = L.plate_data(
                h, serial, show_head=cfg["show_head"], show_household_id=cfg["show_household_id"]
            )
            if pdf is not None:
                info = pdf.add(data, sym, measure)
                rel = job["part"]
            else:
                rel = item["file"]
                _check_parent()
                info = _W["renderer"].write(out / rel, data, sym, measure)
            rows.append(
                {
                    "household_id": h.household_id,
                    "village": h.village_code,
                    "village_name": h.village_name,
                    "house_no": h.house_no,
                    "status": item["status"],
                    "serial": serial,
                    "supersedes": item.get("supersedes"),
                    "file": rel,
                    "page": info.page,
                    "slot": info.slot,
                    "token_sha256": hashlib.sha256(raw).hexdigest(),
                    "sign_kid": int.from_bytes(raw[1:3], "big"),
                    "read_kid": int.from_bytes(raw[3:5], "big"),
                    "carrier": carrier.name,
                    "symbol": sym.version,
                    "ec_level": carrier.ec_level,
                    "modules": sym.size,
                    "symbol_mm": round(info.module_mm * sym.size, 3)
                    if sym.modules is not None
                    else round(carrier.footprint(sym, info.module_mm)[0], 3),
                    "module_mm": info.module_mm,
                    "module_px": info.module_px,
                    "dpi": cfg["dpi"] if info.module_px else None,
                    "issued": cfg["issued"].isoformat()
                    if not item.get("token")
                    else item.get("issued"),
                    "expires": cfg["expires"].isoformat() if cfg["expires"] else None,
                    "batch": cfg["batch"],
                    "register_row": h.row,
                    "_token": text,
                }
            )
        if pdf is not None:
            _check_parent()
            pdf.close()
    except BaseException:
        if pdf is not None:
            pdf.abort()
        raise
    return {
        "rows": rows,
        "part": job.get("part"),
        "cpu_s": time.process_time() - cpu0,
        "rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# ------------------------------------------------------------------ batch side


def _household_payload(h: Household) -> Household:
    return h  # kept as the (small, slotted) record; turned into a dict only when dispatched


def _wire(job: dict[str, Any]) -> dict[str, Any]:
    """The picklable form of a job sent to a worker process."""
    items = [
        dict(it, household=it["household"].to_dict(), superseded_files=None) for it in job["items"]
    ]
    return dict(job, items=items)


def _journal(out: Path, register: Register, opts: BatchOptions) -> dict[str, Any]:
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
    _write_atomic(path, [json.dumps(j, ensure_ascii=False, indent=1) + "\n"])
    return j


def _cleanup_partials(out: Path) -> None:
    for p in out.iterdir():
        if p.name.startswith(".") and (p.name.endswith(".part") or p.name.endswith(".tmp")):
            with contextlib.suppress(OSError):
                p.unlink()


def run_batch(
    register: Register,
    keyring: Any,
    options: BatchOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Issue plates for every good row of ``register`` into ``options.out``."""
    t0 = time.perf_counter()
    opts = options
    if opts.fmt not in FORMATS:
        raise BatchError(f"unknown format {opts.fmt!r} (pdf, png or svg)")
    if opts.fmt == "png" and not 72 <= opts.dpi <= 2400:
        raise BatchError("--dpi must be between 72 and 2400")
    if opts.url_prefix is not None:
        tk.check_url_prefix(opts.url_prefix)
    get_carrier(opts.carrier, ec_level=opts.ec_level)  # CarrierUnavailable early
    font = opts.font or find_cjk_font()
    if opts.fmt == "pdf":
        from chipkit.plates.writers import register_pdf_font, sheet_grid

        register_pdf_font(font)
        per_page = sheet_grid(opts.sheet).per_page
        part_size = max(per_page, opts.plates_per_pdf // per_page * per_page)
    else:
        part_size = max(1, opts.files_per_chunk)
    issued = opts.issued or tk.today_utc()
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise BatchError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    issuer = keyring.issuer()

    with Ledger(keyring.path) as ledger, contextlib.ExitStack() as stack:
        journal = _journal(out, register, opts)
        batch = journal["batch"]
        for name in (MANIFEST_JSON, MANIFEST_CSV, PARTIAL):
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
        _cleanup_partials(out)
        recovered = _recover(ledger, keyring, issuer)
        state = ledger.state()

        # ---- plan
        problems = list(register.problems)
        counts = {"issued": 0, "reissued": 0, "reprinted": 0, "existing": 0}
        partial = (out / PARTIAL).open("w", encoding="utf-8")
        stack.callback(partial.close)
        plan: list[dict[str, Any]] = []
        suffix = "." + opts.fmt
        for h in register.households:
            live = state.live.get(h.household_id)
            if live is not None and live.village != h.village_code and not opts.reissue:
                problems.append(
                    RowProblem(
                        h.row,
                        "village_code",
                        VILLAGE_CHANGED,
                        f"household {h.household_id} holds live plate serial {live.serial} for "
                        f"village {live.village}; use --reissue to replace it",
                        h.household_id,
                    )
                )
                continue
            if live is not None and (not opts.reissue or live.batch == batch):
                here = [
                    f
                    for f in live.files
                    if Path(f).parent == out and f.endswith(suffix) and Path(f).exists()
                ]
                row = live.row
                if here and row and not row.get("adopted"):
                    row = dict(row, status="existing", file=Path(here[-1]).name)
                    partial.write(json.dumps(row, ensure_ascii=False) + "\n")
                    counts["existing"] += 1
                    continue
                # adopted from an interrupted run of this batch: render it as issued
                adopted = bool(row.get("adopted")) and live.batch == batch
                plan.append(
                    {
                        "household": _household_payload(h),
                        "serial": live.serial,
                        "token": live.token,
                        "status": ("reissued" if row.get("supersedes") else "issued")
                        if adopted
                        else "reprinted",
                        "issued": row.get("issued"),
                        "supersedes": row.get("supersedes") if adopted else None,
                    }
                )
                continue
            item = {"household": _household_payload(h), "serial": None, "status": "issued"}
            if live is not None:
                item["status"] = "reissued"
                item["supersedes"] = live.serial
                item["superseded_files"] = live.files
            plan.append(item)
        mint = [p for p in plan if p["serial"] is None]
        if mint:
            for p, s in zip(mint, keyring.reserve_serials(len(mint)), strict=True):
                p["serial"] = s

        # ---- chunks
        jobs: list[dict[str, Any]] = []
        part_no = 0
        taken = {p.name for p in out.glob(f"plates-{batch}-*.pdf")}
        for i in range(0, len(plan), part_size):
            items = plan[i : i + part_size]
            job: dict[str, Any] = {"items": items}
            if opts.fmt == "pdf":
                while True:
                    part_no += 1
                    name = f"plates-{batch}-{part_no:03d}.pdf"
                    if name not in taken:
                        break
                job["part"] = name
                job["label"] = f"batch {batch} part {part_no}"
            else:
                for it in items:
                    it["file"] = safe_filename(it["household"].household_id, it["serial"], opts.fmt)
                    inside(out, it["file"])
            jobs.append(job)

        cfg = {
            "out": str(out),
            "fmt": opts.fmt,
            "carrier": opts.carrier,
            "ec_level": opts.ec_level,
            "sheet": opts.sheet,
            "dpi": opts.dpi,
            "issued": issued,
            "expires": opts.expires,
            "url_prefix": opts.url_prefix,
            "show_head": opts.show_head,
            "show_household_id": opts.show_household_id,
            "pdf_vector": opts.pdf_vector,
            "font": font,
            "batch": batch,
            "parent_pid": os.getpid(),
        }
        files_written = 0
        worker_cpu, worker_rss = 0.0, 0.0
        try:
            total = len(plan)
            done = 0
            if progress:
                progress(0, total)
            for job, result in _execute(jobs, issuer, cfg, opts.jobs, ledger, batch):
                rows = result["rows"]
                files_written += 1 if result.get("part") else len(rows)
                worker_cpu += result.get("cpu_s", 0.0)
                worker_rss = max(worker_rss, result.get("rss_mb", 0.0))
                _confirm(ledger, keyring, out, job, rows, batch)
                for row in rows:
                    row.pop("_token", None)
                    counts[row["status"]] += 1
                    partial.write(json.dumps(row, ensure_ascii=False) + "\n")
                done += len(rows)
                if progress:
                    progress(done, total)
            partial.flush()
        finally:
            partial.close()

        result = BatchResult(
            batch,
            out,
            out / MANIFEST_JSON,
            out / MANIFEST_CSV,
            counts,
            problems,
            files_written,
            0.0,
            recovered,
            worker_cpu,
            worker_rss,
        )
        _write_manifests(out, register, opts, result, journal)
        (out / PARTIAL).unlink()
        journal["complete"] = True
        journal["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        _write_atomic(out / JOURNAL, [json.dumps(journal, ensure_ascii=False, indent=1) + "\n"])
    result.seconds = time.perf_counter() - t0
    return result


def _execute(
    jobs: list[dict[str, Any]],
    issuer: Any,
    cfg: dict[str, Any],
    n_jobs: int | None,
    ledger: Ledger,
    batch: str,
) -> Iterable[tuple[dict[str, Any], dict[str, Any]]]:
    """Run chunks (in order), writing each chunk's intents before it is dispatched."""

    def intents(job: dict[str, Any]) -> None:
        recs = []
        for it in job["items"]:
            if it["status"] in ("issued", "reissued"):
                recs.append(
                    {
                        "event": "intent",
                        "batch": batch,
                        "serial": it["serial"],
                        "household_id": it["household"].household_id,
                        "village": it["household"].village_code,
                        "file": str(Path(cfg["out"]) / (job.get("part") or it["file"])),
                        # what re-sealing this exact token needs (Ed25519 and AES-SIV are
                        # deterministic), so an interrupted run's file can be adopted
                        "issued": it.get("issued") or cfg["issued"].isoformat(),
                        "expires": cfg["expires"].isoformat() if cfg["expires"] else None,
                        "url_prefix": cfg["url_prefix"],
                        "sign_kid": issuer.sign_kid,
                        "read_kid": issuer.read_kid_for(it["household"].village_code),
                        "supersedes": it.get("supersedes"),
                    }
                )
        ledger.append(recs)

    workers = n_jobs or os.cpu_count() or 1
    if workers <= 1 or len(jobs) <= 1:
        _init_worker(issuer, dict(cfg, parent_pid=None))
        for job in jobs:
            intents(job)
            yield job, _render_chunk(_wire(job))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # forkserver: workers start from a small clean process, not a copy of this one (which
    # holds the whole register), so worker memory does not grow with the batch.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    if "forkserver" in methods:
        ctx.set_forkserver_preload(["chipkit.plates.batch", "chipkit.plates.writers"])
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(issuer, cfg),
    )
    pending: deque[tuple[dict[str, Any], Any]] = deque()
    it = iter(jobs)
    try:
        for job in it:
            intents(job)
            pending.append((job, pool.submit(_render_chunk, _wire(job))))
            if len(pending) >= 2 * workers:
                break
        while pending:
            job, fut = pending.popleft()
            res = fut.result()
            nxt = next(it, None)
            if nxt is not None:
                intents(nxt)
                pending.append((nxt, pool.submit(_render_chunk, _wire(nxt))))
            yield job, res
    except BaseException:
        # interrupted or failed: stop the workers now (a file they renamed into place
        # without its ledger record is revoked by the next run's recovery)
        for _, fut in pending:
            fut.cancel()
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _confirm(
    ledger: Ledger,
    keyring: Any,
    out: Path,
    job: dict[str, Any],
    rows: list[dict[str, Any]],
    batch: str,
) -> None:
    """The chunk's files exist: record them, then revoke what they supersede."""
    recs = []
    supersede: list[tuple[int, int, list[str]]] = []
    by_serial = {it["serial"]: it for it in job["items"]}
    for row in rows:
        path = str(out / row["file"])
        manifest_row = {k: v for k, v in row.items() if not k.startswith("_")}
        if row["status"] == "reprinted":
            recs.append(
                {
                    "event": "rendered",
                    "batch": batch,
                    "serial": row["serial"],
                    "household_id": row["household_id"],
                    "file": path,
                    "row": manifest_row,
                }
            )
            continue
        recs.append(
            {
                "event": "issued",
                "batch": batch,
                "serial": row["serial"],
                "household_id": row["household_id"],
                "village": row["village"],
                "token": row["_token"],
                "file": path,
                "row": manifest_row,
            }
        )
        it = by_serial[row["serial"]]
        if it.get("supersedes"):
            supersede.append((it["supersedes"], row["serial"], it.get("superseded_files") or []))
    ledger.append(recs)
    if supersede:
        _revoke(ledger, keyring, [(old, new) for old, new, _ in supersede], batch)
        for _, _, files in supersede:  # a revoked plate image must not be printed by mistake
            for f in files:
                p = Path(f)
                if p.parent == out and p.suffix in (".png", ".svg"):
                    with contextlib.suppress(OSError):
                        p.unlink()


def _revoke(
    ledger: Ledger, keyring: Any, pairs: list[tuple[int, int]], batch: str, reason: str = ""
) -> None:
    """Revoke superseded serials: one keyring update for the whole group, then the ledger."""
    why = reason or f"reissued (batch {batch})"
    keyring.revoke([old for old, _ in pairs], why)
    ledger.append(
        [
            {"event": "revoked", "batch": batch, "serial": old, "superseded_by": new, "reason": why}
            for old, new in pairs
        ]
    )


def _reseal(rec: dict[str, Any], issuer: Any) -> str | None:
    """The token an intent's plate carries, re-sealed (deterministic), or None if the keys changed."""
    if rec.get("sign_kid") != issuer.sign_kid or rec.get("issued") is None:
        return None
    if rec.get("read_kid") != issuer.read_kid_for(rec.get("village", "")):
        return None
    try:
        claims = tk.Claims(
            rec["household_id"],
            rec["village"],
            rec["serial"],
            date.fromisoformat(rec["issued"]),
            date.fromisoformat(rec["expires"]) if rec.get("expires") else None,
        )
        return issuer.seal(claims, rec.get("url_prefix"))
    except (KeyError, TypeError, ValueError):
        return None


def _recover(ledger: Ledger, keyring: Any, issuer: Any) -> dict[str, int]:
    """Resolve what an interrupted run left behind (see the module docstring).

    An intent whose file exists is adopted: its token is re-sealed (identical, the
    schemes are deterministic) and recorded as issued, and the file is removed so the
    plate is rendered again with a full manifest row. If the keys changed since, it
    cannot be re-sealed: the serial is revoked instead. An intent without a file is
    voided (the token never left memory).
    """
    st = ledger.state()
    void, adopted, revoked = [], [], []
    for rec in st.dangling:
        f = Path(rec.get("file") or "")
        if not rec.get("file") or not f.exists():
            void.append(rec)
            continue
        token = _reseal(rec, issuer)
        if token is None:
            revoked.append(rec)
        else:
            adopted.append((rec, token))
    if adopted:
        ledger.append(
            [
                {
                    "event": "issued",
                    "batch": rec.get("batch", ""),
                    "serial": rec["serial"],
                    "household_id": rec["household_id"],
                    "village": rec["village"],
                    "token": token,
                    "file": None,
                    "row": {
                        "adopted": True,
                        "issued": rec.get("issued"),
                        "supersedes": rec.get("supersedes"),
                    },
                }
                for rec, token in adopted
            ]
        )
    if revoked:
        serials = [r["serial"] for r in revoked]
        keyring.revoke(serials, "interrupted batch: plate file written, keys changed since")
        ledger.append(
            [
                {
                    "event": "revoked",
                    "serial": r["serial"],
                    "household_id": r.get("household_id", ""),
                    "reason": "interrupted batch",
                }
                for r in revoked
            ]
        )
    for r in [rec for rec, _ in adopted] + revoked:
        with contextlib.suppress(OSError):
            Path(r["file"]).unlink()
    for rec, _ in adopted:  # an adopted reissue: its superseded image goes, as in _confirm
        before = st.live.get(rec["household_id"])
        if before is not None and before.serial == rec.get("supersedes"):
            for f in before.files:
                p = Path(f)
                if p.parent == Path(rec["file"]).parent and p.suffix in (".png", ".svg"):
                    with contextlib.suppress(OSError):
                        p.unlink()
    if void:
        ledger.append(
            [
                {"event": "void", "serial": r["serial"], "household_id": r.get("household_id", "")}
                for r in void
            ]
        )
    st = ledger.state() if adopted else st
    if st.unrevoked_superseded:
        _revoke(ledger, keyring, st.unrevoked_superseded, "recovery")
    return {
        "voided": len(void),
        "adopted": len(adopted),
        "revoked_orphans": len(revoked),
        "revoked_superseded": len(st.unrevoked_superseded),
    }


def _write_manifests(
    out: Path, register: Register, opts: BatchOptions, res: BatchResult, journal: dict[str, Any]
) -> None:
    head = {
        "format": "chipkit-plates-manifest/1",
        "batch": res.batch,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "register": {
            "path": str(register.path),
            "sha256": register.sha256,
            "encoding": register.encoding,
            "rows_read": register.rows_read,
        },
        "output_format": opts.fmt,
        "carrier": opts.carrier,
        "ec_level": opts.ec_level if opts.carrier == "qr" else None,
        "sheet": opts.sheet if opts.fmt == "pdf" else None,
        "dpi": opts.dpi if opts.fmt == "png" else None,
        "pdf_symbol": (
            "vector" if opts.pdf_vector or opts.carrier != "qr" else "1-bit image mask, /I false"
        )
        if opts.fmt == "pdf"
        else None,
        "plate_mm": [L.PLATE_W_MM, L.PLATE_H_MM],
        "symbol_mm": L.SYMBOL_MM,
        "counts": dict(res.counts, rejected=len(res.problems)),
        "rejected": [p.to_dict() for p in res.problems],
    }

    def rows() -> Iterable[dict[str, Any]]:
        with (out / PARTIAL).open("r", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)

    def json_chunks() -> Iterable[str]:
        text = json.dumps(head, ensure_ascii=False, indent=1)
        yield text[:-2] + ',\n "plates": ['
        first = True
        for r in rows():
            yield ("\n  " if first else ",\n  ") + json.dumps(r, ensure_ascii=False)
            first = False
        yield "\n ]\n}\n"

    def csv_chunks() -> Iterable[str]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(MANIFEST_FIELDS)
        for r in rows():
            w.writerow([csv_safe("" if r.get(k) is None else r.get(k)) for k in MANIFEST_FIELDS])
            if buf.tell() > 65536:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    _write_atomic(out / MANIFEST_CSV, csv_chunks())
    _write_atomic(out / MANIFEST_JSON, json_chunks())


__all__ = [
    "FORMATS",
    "MANIFEST_FIELDS",
    "BatchError",
    "BatchOptions",
    "BatchResult",
    "csv_safe",
    "inside",
    "run_batch",
    "safe_filename",
]
