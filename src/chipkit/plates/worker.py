"""The worker side of a batch: seal, encode and render one chunk of plates.

Runs in pool worker processes (or in the batch process itself for a one-worker batch).
:func:`init_worker` sets up one :class:`_Worker` per process; :func:`render_chunk`
renders one :class:`~chipkit.plates.records.Job` and returns its manifest rows.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from chipkit import token as tk
from chipkit.keyfile import PASSPHRASE_ENV
from chipkit.keys import Issuer
from chipkit.plates import layout as L
from chipkit.plates._out import commit_files, discard
from chipkit.plates.carriers import QRCarrier, SnowflakeCarrier, Symbol, get_carrier
from chipkit.plates.lifeline import Lifeline, set_parent_death_signal
from chipkit.plates.records import ChunkResult, Job, PlanItem, PlateRow, WorkerConfig
from chipkit.plates.writers import PdfSheetWriter, PngRenderer, SvgRenderer, Written


@dataclass
class _Worker:
    issuer: Issuer
    cfg: WorkerConfig
    carrier: QRCarrier | SnowflakeCarrier
    measure: L.Measurer
    renderer: PngRenderer | SvgRenderer | None
    lifeline: Lifeline | None

    def check_alive(self) -> None:
        """Before a rename into OUT: a worker whose batch died must not put files in place."""
        if self.lifeline is not None:
            self.lifeline.check()


_STATE: list[_Worker] = []


def init_worker(issuer: Issuer, cfg: WorkerConfig) -> None:
    """Set up this process to render plates. Pool workers (``cfg.batch_pid`` set) are
    bound to the batch process: they die with it (see :mod:`chipkit.plates.lifeline`)."""
    lifeline = None
    if cfg.batch_pid is not None:
        set_parent_death_signal()
        lifeline = Lifeline(cfg.batch_pid)
        os.environ.pop(PASSPHRASE_ENV, None)  # never needed here (the batch scrubs it too)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
    carrier = get_carrier(cfg.carrier, ec_level=cfg.ec_level, pdf_vector=cfg.pdf_vector)
    renderer: PngRenderer | SvgRenderer | None = None
    if cfg.fmt == "png":
        renderer = PngRenderer(cfg.font, cfg.dpi, carrier)
    elif cfg.fmt == "svg":
        renderer = SvgRenderer(cfg.font, carrier)
    _STATE[:] = [
        _Worker(issuer, cfg, carrier, L.Measurer(cfg.font.path, cfg.font.index), renderer, lifeline)
    ]


def _seal(w: _Worker, item: PlanItem) -> tuple[str, bytes]:
    """The plate's chip: the live token again (in this batch's text form: a reprint with
    ``--url-prefix`` puts the same chip behind the URL), or a fresh one sealed for its
    serial."""
    h, cfg = item.household, w.cfg
    if item.token:
        raw = tk.from_text(item.token)
        return tk.to_text(raw, cfg.url_prefix), raw
    claims = tk.Claims(h.household_id, h.village_code, item.serial, cfg.issued, cfg.expires)
    raw = w.issuer.seal_bytes(claims)
    return tk.to_text(raw, cfg.url_prefix), raw


def _row(w: _Worker, item: PlanItem, raw: bytes, sym: Symbol, info: Written, rel: str) -> PlateRow:
    h, cfg, carrier = item.household, w.cfg, w.carrier
    if sym.modules is not None:
        symbol_mm = round(info.module_mm * sym.size, 3)
    else:
        symbol_mm = round(carrier.footprint(sym, info.module_mm)[0], 3)
    return PlateRow(
        household_id=h.household_id,
        village=h.village_code,
        village_name=h.village_name,
        house_no=h.house_no,
        status=item.status,
        serial=item.serial,
        supersedes=item.supersedes,
        file=rel,
        page=info.page,
        slot=info.slot,
        token_sha256=hashlib.sha256(raw).hexdigest(),
        sign_kid=int.from_bytes(raw[1:3], "big"),
        read_kid=int.from_bytes(raw[3:5], "big"),
        carrier=carrier.name,
        symbol=sym.version,
        ec_level=carrier.ec_level,
        modules=sym.size,
        symbol_mm=symbol_mm,
        module_mm=info.module_mm,
        module_px=info.module_px,
        dpi=cfg.dpi if info.module_px else None,
        issued=item.issued if item.token else cfg.issued.isoformat(),
        expires=cfg.expires.isoformat() if cfg.expires else None,
        batch=cfg.batch,
        register_row=h.row,
    )


def render_chunk(job: Job) -> ChunkResult:
    """Render one chunk: a PDF part or a group of PNG/SVG files."""
    cpu0 = time.process_time()
    w = _STATE[0]
    cfg = w.cfg
    out = Path(cfg.out)
    result = ChunkResult([], [], job.part)
    pdf = None
    temps: list[tuple[Path, Path]] = []  # PNG/SVG: (temp file, final name), renamed together
    if cfg.fmt == "pdf":
        assert job.part is not None
        pdf = PdfSheetWriter(out / job.part, cfg.font, w.carrier, sheet=cfg.sheet, label=job.label)
    try:
        for item in job.items:
            text, raw = _seal(w, item)
            sym = w.carrier.encode(text, raw)
            data = L.plate_data(
                item.household,
                item.serial,
                show_head=cfg.show_head,
                show_household_id=cfg.show_household_id,
            )
            if pdf is not None:
                info, rel = pdf.add(data, sym, w.measure), pdf.path.name
            else:
                assert w.renderer is not None
                rel = item.file
                tmp, info = w.renderer.write_temp(out / rel, data, sym, w.measure)
                temps.append((tmp, out / rel))
            result.rows.append(_row(w, item, raw, sym, info, rel))
            result.tokens.append(text)
        if pdf is not None:
            pdf.close(before_commit=w.check_alive)
        commit_files(temps, out, before=w.check_alive)
    except BaseException:
        if pdf is not None:
            pdf.abort()
        for tmp, _ in temps:
            discard(tmp)
        raise
    result.files = 1 if pdf is not None else len(result.rows)
    result.cpu_s = time.process_time() - cpu0
    result.rss_mb = _peak_rss_mb()
    return result


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


__all__ = ["init_worker", "render_chunk"]
