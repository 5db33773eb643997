"""Reading uploaded files: a hard size cap while reading, then the safe decoder (type sniffed from bytes)."""

from __future__ import annotations

from fastapi import Request, UploadFile
from PIL import Image

from ..canvas import ImageError, load_image
from .errors import ApiError

CHUNK = 1 << 16


def _human(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def check_content_length(request: Request, cap: int) -> None:
    """Refuse a request whose declared body is over the cap before anything is read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap + CHUNK:  # room for form fields
        raise ApiError(413, "upload_too_large", f"upload is larger than the {_human(cap)} limit")


async def read_capped(upload: UploadFile, cap: int) -> bytes:
    chunks, total = [], 0
    while chunk := await upload.read(CHUNK):
        total += len(chunk)
        if total > cap:
            raise ApiError(413, "upload_too_large", f"upload {upload.filename or ''!r} is larger than the "
                                                    f"{_human(cap)} limit")
        chunks.append(chunk)
    if total == 0:
        raise ApiError(400, "empty_upload", f"upload {upload.filename or ''!r} is empty")
    return b"".join(chunks)


def decode_image(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """RGBA image, or a 415 naming the fault (not an image, corrupt, bomb, unsupported mode)."""
    try:
        return load_image(data, name=name or "upload", max_pixels=max_pixels)
    except ImageError as err:
        raise ApiError(415, "bad_image", str(err)) from None
