"""×4 upscaling with the bundled Real-ESRGAN models (`layercraft.upscale`).

- POST /api/projects/{id}/upscale {job_id?, model?}: upscale one of the project's results (default: the last) into
  a new history entry (`<job>-x4-<model>`), which the editor shows and exports like any result.
- POST /api/upscale (file, model): upscale an uploaded image; the response is the PNG.

The models load on first use, once per process; one upscale runs at a time. A missing model is a 501, an image too
large for the upscaler a 413, an undecodable upload a 415.
"""

from __future__ import annotations

import io
import threading
import time
from functools import lru_cache

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from PIL import Image
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ...upscale import MODELS, UpscaleError
from ...vision.assets import ModelMissingError, missing_models
from ..context import Studio, studio
from ..document import Result
from ..errors import ApiError
from ..schemas import HistoryEntry
from ..uploads import check_content_length, read_capped

router = APIRouter(tags=["upscale"])
_lock = threading.Lock()


class UpscaleRequest(BaseModel):
    job_id: str | None = None  # default: the project's last result
    model: str = "anime"


def available() -> dict:
    """What /api/info says about upscaling: the installed models, or why there are none."""
    missing = set(missing_models())
    kinds = [k for k, (param, weights, _) in MODELS.items() if param not in missing and weights not in missing]
    return {"available": bool(kinds), "models": kinds,
            "reason": None if kinds else "the upscaler weights are not installed: run `python3 make.py` once"}


@lru_cache(maxsize=len(MODELS))
def _upscaler(kind: str):
    from ...upscale import Upscaler

    return Upscaler.from_bundled(kind)


def _check_model(kind: str) -> None:
    if kind not in MODELS:
        raise ApiError(422, "unknown_upscaler", f"unknown upscaler {kind!r}; choose from {', '.join(MODELS)}")


def _upscale_png(image: Image.Image, kind: str) -> bytes:
    try:
        with _lock:
            out = _upscaler(kind).upscale(image)
    except ModelMissingError as err:
        raise ApiError(501, "upscaler_missing", str(err)) from None
    except UpscaleError as err:
        raise ApiError(413, "image_too_large", str(err)) from None
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()


@router.post("/api/projects/{project_id}/upscale", status_code=201)
async def upscale_result(project_id: str, body: UpscaleRequest, s: Studio = Depends(studio)) -> HistoryEntry:
    """A ×4 copy of one of the project's results, added to its history."""
    _check_model(body.model)
    with s.store.lock:
        doc = s.store.get(project_id)
        if body.job_id is None:
            if not doc.history:
                raise ApiError(409, "no_result", f"project {project_id!r} has no result to upscale yet")
            source = doc.history[-1]
        else:
            source = doc.result(body.job_id)
        entry, png = source.entry, source.png
    image = Image.open(io.BytesIO(png))
    image.load()
    data = await run_in_threadpool(_upscale_png, image, body.model)
    job_id = f"{entry.job_id}-x4-{body.model}"
    new = HistoryEntry(job_id=job_id, prompt=entry.prompt, settings=entry.settings, width=image.width * 4,
                       height=image.height * 4, created=time.time(),
                       result_url=f"/api/projects/{project_id}/results/{job_id}.png")
    with s.store.lock:
        target = s.store.get(project_id)
        target.history = [r for r in target.history if r.entry.job_id != job_id]  # once per result and model
        target.add_result(Result(new, data), s.config.max_history)
        s.store.changed(target)
    return new


def _decode(data: bytes, max_pixels: int) -> Image.Image:
    from ...vision.errors import PhotoError
    from ...vision.photo import load_photo

    try:
        return load_photo(data, name="upload", max_pixels=max_pixels)
    except PhotoError as err:
        raise ApiError(415, "bad_image", str(err)) from None


@router.post("/api/upscale")
async def upscale_upload(request: Request, file: UploadFile = File(...), model: str = Form("anime"),
                         s: Studio = Depends(studio)) -> Response:
    """The uploaded image ×4, as a PNG download."""
    _check_model(model)
    check_content_length(request, s.config.max_upload_bytes)
    data = await read_capped(file, s.config.max_upload_bytes)
    image = await run_in_threadpool(_decode, data, s.config.max_image_pixels)
    png = await run_in_threadpool(_upscale_png, image, model)
    return Response(png, media_type="image/png", headers={"Content-Disposition": 'attachment; filename="x4.png"'})
