"""Verification and scanning for staff and machine clients."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from chipkit.serve.deps import client, limit, need_staff, services
from chipkit.serve.errors import ApiError
from chipkit.serve.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["chips"])

SCANS_PER_MINUTE = 120


class VerifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chip: str = Field(min_length=1, max_length=2048, description="the chip text as printed")


def verifier(request: Request) -> Any:
    v = services(request).verifier
    if v is None:
        raise ApiError(503, "no_keys", "this server has no keys: start it with --keys or --bundle")
    return v


@router.post("/verify", summary="Check one chip text: status and claims")
async def verify(body: VerifyBody, request: Request) -> dict[str, Any]:
    need_staff(request)
    out: dict[str, Any] = verifier(request).check(body.chip).to_dict()
    return out


@router.post("/scan", summary="Every chip in a photo, as `chipkit scan --json` gives it")
async def scan(request: Request, photo: UploadFile = File(...)) -> dict[str, Any]:
    user = need_staff(request)
    addr, _ = client(request)
    limit(request, "scan-addr", addr, SCANS_PER_MINUTE, 60)
    limit(request, "scan-user", user.username, SCANS_PER_MINUTE, 60)
    data = await run_in_threadpool(read_upload, request, photo)
    results = await run_in_threadpool(_scan, verifier(request), data, photo.filename)
    return {"results": results}


def _scan(v: Any, data: bytes, name: str | None) -> list[dict[str, Any]]:
    from chipkit.scan import scan_image

    return [r.to_dict() for r in scan_image(data, v, file=name or "upload")]
