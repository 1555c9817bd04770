"""Photos attached to a resident's request (the household page's optional photo).

The household session that can file a request may add up to ``MAX_PHOTOS`` photos to its
own household's case while the case is still ``submitted``; with the household credential
(PIN) it sees them again on the case (``api_households.my_case``). Each photo goes through
``photos.normalise`` (dimensions checked before decoding, re-encoded as a metadata-free
JPEG: no EXIF position, no bytes of the upload itself). Staff read them within their case scope
(the same check as the case itself).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from chipkit.serve import photos, scope
from chipkit.serve.deps import client, limit, need_household, need_staff, services
from chipkit.serve.errors import ApiError, not_found
from chipkit.serve.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["photos"])

MAX_PHOTOS = 3
PHOTOS_PER_ADDR = (30, 3600)
_NAME = re.compile(r"^[0-9a-f]{16}\.jpg$")


def photo_dir(request: Request, case_id: int) -> Path:
    return services(request).data_dir / "case-photos" / str(int(case_id))


def listing(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if _NAME.match(p.name))


@router.post(
    "/household/cases/{case_id}/photos",
    status_code=201,
    summary="Add a photo to the household's new request (the chip is enough)",
)
async def add_photo(
    case_id: int, request: Request, photo: UploadFile = File(...)
) -> dict[str, Any]:
    p = need_household(request)
    svc = services(request)
    addr, _ = client(request)
    limit(request, "photo-case-addr", addr, *PHOTOS_PER_ADDR)
    c = svc.cases.get(case_id)
    if c["household_id"] != p.household_id:
        raise not_found(f"unknown case {case_id}")
    if c["state"] != "submitted":
        raise ApiError(409, "conflict", "photos can be added only while the request is new")
    folder = photo_dir(request, case_id)
    if len(listing(folder)) >= MAX_PHOTOS:
        raise ApiError(409, "conflict", f"at most {MAX_PHOTOS} photos per request")
    data = await run_in_threadpool(read_upload, request, photo)
    jpeg = await run_in_threadpool(photos.normalise, data, photo.filename or "photo")
    name = hashlib.sha256(jpeg).hexdigest()[:16] + ".jpg"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.part"
    tmp.write_bytes(jpeg)
    tmp.replace(folder / name)
    return {"case_id": case_id, "photo": name, "photos": listing(folder)}


def request_photo_urls(request: Request, case_id: int) -> list[str]:
    """The addresses of a case's resident photos (for pages listing a case's photos)."""
    return [
        f"/api/v1/cases/{int(case_id)}/request-photos/{n}"
        for n in listing(photo_dir(request, case_id))
    ]


def _staff_case(request: Request, case_id: int) -> None:
    user = need_staff(request)
    scope.check_case(user, services(request).cases.get(case_id, private=True))


@router.get("/cases/{case_id}/request-photos", summary="The photos the resident added to a case")
def list_photos(case_id: int, request: Request) -> dict[str, Any]:
    _staff_case(request, case_id)
    return {"case_id": case_id, "photos": listing(photo_dir(request, case_id))}


@router.get(
    "/cases/{case_id}/request-photos/{name}",
    summary="One photo the resident added to a case (JPEG)",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_photo(case_id: int, name: str, request: Request) -> FileResponse:
    _staff_case(request, case_id)
    return jpeg(photo_file(request, case_id, name))


def photo_file(request: Request, case_id: int, name: str) -> Path | None:
    """A resident photo of the case by its plain file name, or None."""
    if not _NAME.match(name):
        return None
    path = photo_dir(request, case_id) / name
    return path if path.is_file() else None


def jpeg(path: Path | None) -> FileResponse:
    """A stored photo (404 when there is none), never cached by the browser."""
    if path is None or not path.is_file():
        raise not_found("unknown photo")
    return FileResponse(path, media_type="image/jpeg", headers={"cache-control": "no-store"})
