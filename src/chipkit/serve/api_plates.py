"""The clerk's work: upload a register, see the bad rows before any serial is spent, issue
plates in a background job, download the sheets, the manifest and the households' PIN slips,
revoke and reissue by household, export the verifier bundle. Needs the server started with
``--keys`` (a keyring)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from chipkit.cases import audit
from chipkit.errors import ChipkitError
from chipkit.serve import errors, jobs
from chipkit.serve.accounts import User
from chipkit.serve.deps import Services, need_staff, services
from chipkit.serve.errors import ApiError, forbidden, not_found
from chipkit.serve.models import uploads
from chipkit.serve.slips import SLIPS_TTL, is_slips_file, is_slips_name, job_slips
from chipkit.serve.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["plates"])

PLATE_ROLES = ("clerk", "admin")
_ID = re.compile(r"^[0-9a-f]{32}$")
_FILE = re.compile(r"^[0-9A-Za-z._-]{1,200}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Issue(Strict):
    format: Literal["pdf", "png", "svg"] = "pdf"
    sheet: Literal["a4", "a3"] = "a4"
    carrier: Literal["qr", "snowflake"] = "snowflake"  # the library default (issue 14)
    reissue: bool = False
    new_pins: bool = False  # also replace the PINs households hold (default: kept)
    households: list[str] = Field(default_factory=list, max_length=100000)


class Revoke(Strict):
    household_id: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=200)


def _keyring(svc: Services) -> Any:
    """The keyring as it is on disk now (another process may have changed it)."""
    if svc.keyring is None:
        raise ApiError(503, "no_keyring", "plates need the server started with --keys KEYRING")
    svc.refresh_verifier(force=True)
    if svc.trust_error is not None:
        raise ApiError(503, "keyring_refused", svc.trust_error)
    return svc.keyring


def _data(svc: Services) -> Path:
    return svc.data_dir


def _village_problems(user: User, reg: Any) -> list[dict[str, Any]]:
    """A clerk issues for their own village only: other villages' rows are bad rows."""
    if user.role != "clerk":
        return []
    return [
        {
            "row": h.row,
            "column": "village_code",
            "reason": "other_village",
            "detail": f"village {h.village_code} is not {user.unit_id} (your village)",
            "household_id": h.household_id,
        }
        for h in reg.households
        if h.village_code != user.unit_id
    ]


def _add_cells(reg: Any, problems: list[dict[str, Any]]) -> None:
    """Each bad row's cell as the file holds it (``cell``), beside its reason."""
    from chipkit.plates.raw_rows import problem_cells
    from chipkit.register import RowProblem

    keys = ("row", "column", "reason", "detail", "household_id")
    rows = [RowProblem(**{k: p[k] for k in keys}) for p in problems]
    for p, cell in zip(problems, problem_cells(reg, rows), strict=True):
        p["cell"] = cell[:200]


def _read(path: Path, name: str) -> Any:
    from chipkit.register import read_register_bytes

    return read_register_bytes(path.read_bytes(), name)


@router.post("/registers", status_code=201, summary="Upload a register: dry run, no serial spent")
def upload_register(request: Request, file: UploadFile = File(...)) -> dict[str, Any]:
    user = need_staff(request, *PLATE_ROLES)
    svc = services(request)
    data = read_upload(request, file)
    name = Path(file.filename or "register.csv").name[:200]
    uid = secrets.token_hex(16)
    folder = _data(svc) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / uid
    path.write_bytes(data)
    reg = _read(path, name)  # RegisterError -> 400 with the file named
    problems = [p.to_dict() for p in reg.problems] + _village_problems(user, reg)
    _add_cells(dataclasses.replace(reg, path=path), problems)
    with svc.db.write() as conn:
        conn.execute(
            insert(uploads).values(
                id=uid,
                owner=user.username,
                filename=name,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                created_at=svc.now(),
            )
        )
    bad = {p["household_id"] for p in problems if p["reason"] == "other_village"}
    return {
        "upload_id": uid,
        "file": name,
        "encoding": reg.encoding,
        "summary": reg.summary(),
        "households": len([h for h in reg.households if h.household_id not in bad]),
        "problems": sorted(problems, key=lambda p: (p["row"], p["column"])),
    }


def _upload(svc: Services, user: User, upload_id: str) -> tuple[Path, str]:
    if not _ID.match(upload_id):
        raise not_found("unknown upload")
    with svc.db.read() as conn:
        r = conn.execute(select(uploads).where(uploads.c.id == upload_id)).first()
    if r is None or (user.role != "admin" and r.owner != user.username):
        raise not_found("unknown upload")
    return _data(svc) / "uploads" / upload_id, str(r.filename)


@router.post(
    "/registers/{upload_id}/issue",
    status_code=202,
    summary="Issue plates for an uploaded register (a background job; returns at once)",
)
def issue(upload_id: str, body: Issue, request: Request) -> JSONResponse:
    user = need_staff(request, *PLATE_ROLES)
    svc = services(request)
    kr = _keyring(svc)
    reg = _rows(svc, user, upload_id, body)
    params = body.model_dump() | {"upload_id": upload_id}
    jid = jobs.new_job(svc.db, "plates", user.username, params, svc.now())
    what = {"job": jid, "upload": upload_id, "households": len(reg.households)}
    _audit(svc, user, "plates.issue", what | body.model_dump(exclude={"households"}))
    work = _work(svc, kr, reg, body, jid, f"user:{user.username}")
    jobs.start(svc.db, jid, work, svc.now)
    return JSONResponse({"job_id": jid, "state": "queued"}, status_code=202)


def _audit(svc: Services, user: User, kind: str, after: dict[str, Any]) -> None:
    """Plates issued or revoked through the service: an audit event naming the account."""
    with svc.db.write() as conn:
        audit.append(conn, kind, f"user:{user.username}", svc.now(), after=after)


def _rows(svc: Services, user: User, upload_id: str, body: Issue) -> Any:
    """The uploaded register, cut to the rows this user may issue and asked for."""
    path, name = _upload(svc, user, upload_id)
    reg = _read(path, name)
    keep = [
        h
        for h in reg.households
        if (user.role != "clerk" or h.village_code == user.unit_id)
        and (not body.households or h.household_id in set(body.households))
    ]
    if not keep:
        raise ApiError(422, "bad_input", f"{name}: no household rows to issue")
    return dataclasses.replace(reg, households=keep)


def _work(svc: Services, kr: Any, reg: Any, body: Issue, jid: str, by: str) -> jobs.Work:
    """The job: the plates, then a PIN and slip for every household printed that holds none
    (every one with ``new_pins``)."""
    out = jobs.job_dir(_data(svc), jid)

    def work(progress: Any) -> dict[str, Any]:
        from chipkit.plates import BatchOptions, run_batch

        opts = BatchOptions(
            out=out,
            fmt=body.format,
            sheet=body.sheet,
            carrier=body.carrier,
            reissue=body.reissue,
            jobs=1,
        )
        res = run_batch(reg, kr, opts, progress=progress)
        svc.refresh_verifier(force=True)
        slips = job_slips(
            svc.db, out, by=by, hasher=svc.config.pin_hasher, now=svc.now(), new_pins=body.new_pins
        )
        return {
            "counts": res.counts,
            "slips": slips,
            "problems": [p.to_dict() for p in res.problems],
            "files": sorted(
                p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".")
            ),
            "seconds": round(res.seconds, 2),
            "recovered": res.recovered,
        }

    return work


def resume_stale(svc: Services, jid: str) -> None:
    """Take over a job whose process is gone (its lease expired) and resume it: the plate
    batch's journal and ledger make the re-run complete it without a second plate per
    household. When it cannot be resumed here, the job is marked failed, saying why."""
    now = svc.now()
    if not jobs.reclaim(svc.db, jid, now):
        return  # another process took it, or it is alive after all
    j = jobs.get(svc.db, jid, now)
    try:
        if j["kind"] != "plates":
            raise ApiError(409, "conflict", f"jobs of kind {j['kind']} are not resumable")
        user = svc.accounts.get(j["owner"])
        if not user.active:
            raise ApiError(403, "forbidden", f"the account {user.username} is disabled")
        params = dict(j["params"])
        upload_id = str(params.pop("upload_id", ""))
        body = Issue(**params)
        kr = _keyring(svc)
        reg = _rows(svc, user, upload_id, body)
    except (ApiError, ChipkitError, ValueError) as e:
        why = e.detail if isinstance(e, ApiError) else str(e)
        jobs.fail(
            svc.db,
            jid,
            now,
            f"the server process running this job stopped ({j['done']} of {j['total']} "
            f"plates done) and it cannot be resumed: {why}. Issue the upload again: "
            "households that already got a plate are not minted twice",
        )
        return
    errors.log.warning("resuming plates job %s after its process stopped", jid[:8])
    jobs.start(svc.db, jid, _work(svc, kr, reg, body, jid, f"user:{user.username}"), svc.now)


def resume_all_stale(svc: Services) -> int:
    """Resume every job whose process is gone (run by each process's periodic sweep)."""
    ids = jobs.stale_ids(svc.db, svc.now())
    for jid in ids:
        resume_stale(svc, jid)
    return len(ids)


def _job(request: Request, jid: str) -> dict[str, Any]:
    user = need_staff(request)
    if not _ID.match(jid):
        raise not_found("unknown job")
    svc = services(request)
    j = jobs.get(svc.db, jid, svc.now())
    if user.role != "admin" and j["owner"] != user.username:
        raise not_found("unknown job")
    if j["state"] == "stale":  # its process is gone: resume it here (or say why not)
        resume_stale(svc, jid)
        j = jobs.get(svc.db, jid, svc.now())
    return j


@router.get("/jobs/{job_id}", summary="A background job: state, progress, result")
def job(job_id: str, request: Request) -> dict[str, Any]:
    j = _job(request, job_id)
    return {
        k: j[k]
        for k in (
            "id",
            "kind",
            "state",
            "done",
            "total",
            "result",
            "error",
            "created_at",
            "updated_at",
        )
    }


@router.get("/jobs/{job_id}/files/{name}", summary="Download a job's output (PDF, manifest)")
def job_file(job_id: str, name: str, request: Request) -> FileResponse:
    j = _job(request, job_id)
    if j["state"] != "done" or not _FILE.match(name) or name.startswith("."):
        raise not_found(f"no file {name}")
    folder = jobs.job_dir(_data(services(request)), job_id).resolve()
    path = (folder / name).resolve()
    if is_slips_name(name):
        return _slips_file(request, j, path)
    if path.parent != folder or not path.is_file():
        raise not_found(f"no file {name}")
    media = {
        ".pdf": "application/pdf",
        ".csv": "text/csv; charset=utf-8",
        ".json": "application/json",
        ".png": "image/png",
        ".svg": "image/svg+xml",
    }.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media, filename=name)


def _slips_file(request: Request, j: dict[str, Any], path: Path) -> FileResponse:
    """The PIN slips: to the account that issued the job only, once (the file is moved aside
    for this one download and deleted after it), within SLIPS_TTL of the job's end."""
    user = need_staff(request)
    svc = services(request)
    if j["owner"] != user.username:
        raise forbidden("PIN slips go only to the account that issued the plates")
    expires = ((j.get("result") or {}).get("slips") or {}).get("expires_at")
    if expires is None or svc.now() >= int(expires):
        path.unlink(missing_ok=True)
    mine = path.with_name(f".{path.name}.{secrets.token_hex(8)}.sent")
    try:
        path.replace(mine)  # one download wins; a second request finds nothing
        os.utime(mine)  # the sweep leaves a download under way alone
    except FileNotFoundError:
        raise not_found(
            f"no file {path.name}: PIN slips are deleted once downloaded or "
            f"{SLIPS_TTL // 60} minutes after the job; issue again with new_pins (the "
            "console's replace-PINs box), or make new slips with `chipkit households pins`"
        ) from None
    media = "application/pdf" if path.suffix == ".pdf" else "text/csv; charset=utf-8"
    return FileResponse(
        mine,
        media_type=media,
        filename=path.name,
        headers={"cache-control": "no-store"},
        background=BackgroundTask(mine.unlink, missing_ok=True),
    )


def expire_slips(svc: Services) -> int:
    """Delete PIN slips nobody downloaded in time, and leftovers of interrupted writes or
    downloads (run by each process's periodic sweep); returns how many files went."""
    gone = 0
    found = (_data(svc) / "jobs").glob("*/*pin-slips*")
    for f in sorted(p for p in found if is_slips_file(p.name)):
        try:
            j = jobs.get(svc.db, f.parent.name, svc.now())
        except ChipkitError:
            j = {"state": "done", "result": None}
        if j["state"] in ("queued", "running"):
            continue
        slips = (j.get("result") or {}).get("slips") or {}
        if f.name.startswith("."):  # a write or download that stopped half-way
            expired = time.time() - f.stat().st_mtime > 600
        else:
            expired = svc.now() >= int(slips.get("expires_at") or 0)
        if expired:
            f.unlink(missing_ok=True)
            gone += 1
    return gone


def _own_household(svc: Services, user: User, household_id: str) -> None:
    """A clerk acts on their own village's households only (as the cases register says)."""
    if user.role == "clerk":
        with svc.db.read() as conn:
            from chipkit.cases.models import households

            v = conn.execute(
                select(households.c.village_id).where(households.c.id == household_id)
            ).scalar()
        if v != user.unit_id:
            raise forbidden(f"household {household_id} is not in your village")


@router.post("/plates/revoke", summary="Revoke every live plate of a household")
def revoke(body: Revoke, request: Request) -> dict[str, Any]:
    user = need_staff(request, *PLATE_ROLES)
    svc = services(request)
    kr = _keyring(svc)
    _own_household(svc, user, body.household_id)
    res = _revoke_audited(svc, user, kr, body)
    # No live plate is left: the phones registered with the household's PIN and its open
    # sessions must not outlive it (a reissue keeps them: same household, new plate).
    phones = svc.accounts.forget_household(body.household_id, by=f"user:{user.username}")
    revoked = [p.serial for p in res.revoked]
    return {"revoked": revoked, "already": list(res.already), "phones_revoked": phones}


def _revoke_audited(svc: Services, user: User, kr: Any, body: Revoke) -> Any:
    """Revoke every live plate of the household (the keyring and its ledger), then the audit
    event naming the account."""
    from chipkit.issuance import revoke_checked

    res = revoke_checked(kr, [], body.reason, households=[body.household_id])
    svc.refresh_verifier(force=True)
    serials = [p.serial for p in res.revoked]
    what = {"household_id": body.household_id, "serials": serials, "reason": body.reason}
    _audit(svc, user, "plates.revoke", what)
    return res


class Reissue(Revoke):
    upload_id: str | None = Field(default=None, max_length=32)
    format: Literal["pdf", "png", "svg"] = "pdf"
    sheet: Literal["a4", "a3"] = "a4"
    carrier: Literal["qr", "snowflake"] = "snowflake"  # the library default (issue 14)
    new_pins: bool = False  # a new PIN and slip even if the household holds one


def _upload_with(svc: Services, user: User, household_id: str, upload_id: str | None) -> str:
    """The upload to print the new plate from: the one named, else the caller's latest
    (of their last five) whose register lists the household."""
    if upload_id is None:
        with svc.db.read() as conn:
            q = select(uploads.c.id).where(uploads.c.owner == user.username)
            ids = [r[0] for r in conn.execute(q.order_by(uploads.c.created_at.desc()).limit(5))]
    else:
        ids = [upload_id]
    for uid in ids:
        path, name = _upload(svc, user, uid)
        if any(h.household_id == household_id for h in _read(path, name).households):
            return str(uid)
    where = f"upload {upload_id}" if upload_id else "your recent uploads"
    raise ApiError(
        422, "bad_input", f"household {household_id} is not in {where}: upload its register"
    )


@router.post(
    "/plates/reissue",
    status_code=202,
    summary="Reissue a household's plate: revoke the live one with a reason, print a new one",
)
def reissue(body: Reissue, request: Request) -> JSONResponse:
    user = need_staff(request, *PLATE_ROLES)
    svc = services(request)
    kr = _keyring(svc)
    _own_household(svc, user, body.household_id)
    uid = _upload_with(svc, user, body.household_id, body.upload_id)
    from chipkit.issuance import live_serials
    from chipkit.plates.ledger import Ledger

    with Ledger(kr.path) as ledger:
        live = live_serials(ledger, kr, body.household_id)
    revoked: list[int] = []
    if live:
        revoked = [p.serial for p in _revoke_audited(svc, user, kr, body).revoked]
    opts = Issue(
        format=body.format,
        sheet=body.sheet,
        carrier=body.carrier,
        reissue=True,
        new_pins=body.new_pins,
        households=[body.household_id],
    )
    started = issue(uid, opts, request)
    job = json.loads(bytes(started.body))
    return JSONResponse(job | {"upload_id": uid, "revoked": revoked}, status_code=202)


@router.get("/verifier-bundle", summary="Export a signed verifier bundle (clerk: own village)")
async def bundle(request: Request, village: str | None = None) -> JSONResponse:
    user = need_staff(request, *PLATE_ROLES)
    svc = services(request)
    kr = _keyring(svc)
    if user.role == "clerk":
        if village not in (None, user.unit_id):
            raise forbidden("a clerk exports their own village's bundle")
        village = user.unit_id

    def export() -> bytes:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "bundle.json"
            kr.export_verifier(out, village=village)
            return out.read_bytes()

    data = await run_in_threadpool(export)
    return JSONResponse(
        json.loads(data),
        headers={"content-disposition": "attachment; filename=verifier-bundle.json"},
    )
