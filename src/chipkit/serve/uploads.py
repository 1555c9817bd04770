"""Reading uploaded files within the configured byte limit (the request body as a whole is
already cut off at that limit by the Guard middleware, before it is read)."""

from __future__ import annotations

from fastapi import Request, UploadFile

from chipkit.serve.errors import ApiError


def read_upload(request: Request, upload: UploadFile) -> bytes:
    limit = int(request.app.state.chipkit.config.max_upload)
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "too_large", f"{upload.filename or 'upload'}: over {limit} bytes")
    if not data:
        raise ApiError(422, "bad_input", f"{upload.filename or 'upload'}: empty file")
    return data
