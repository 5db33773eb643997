"""Project files: import an uploaded `.lcp` through the safe loader, export the project as `.lcp`."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from ...canvas import Canvas, CanvasError, load_project, save_project
from ...canvas.errors import LimitError
from ..context import Studio, studio
from ..errors import ApiError
from ..schemas import ProjectView
from ..uploads import check_content_length, read_capped
from .projects import view

router = APIRouter(prefix="/api/projects", tags=["files"])


def _load_bytes(data: bytes, s: Studio) -> Canvas:
    """The loader itself reads the upload from memory (no temp file), under the studio's limits."""
    limits = dataclasses.replace(s.config.limits, max_file_bytes=s.config.max_project_bytes,
                                 max_image_pixels=s.config.max_image_pixels)
    try:
        return load_project(data, limits=limits, name="project file")
    except LimitError as err:
        raise ApiError(413, "project_over_limit", str(err)) from None
    except CanvasError as err:
        raise ApiError(422, "bad_project", str(err)) from None


def _save_bytes(canvas: Canvas) -> bytes:
    with tempfile.TemporaryDirectory(prefix="layercraft-export-") as tmp:
        return save_project(canvas, Path(tmp) / "export.lcp", compress_level=1).read_bytes()


def _display_name(filename: str | None, max_chars: int) -> str:
    stem = Path((filename or "imported").replace("\\", "/")).name
    stem = (stem[:-4] if stem.endswith(".lcp") else stem)[:max_chars]
    return stem.encode("utf-8", "replace").decode("utf-8").replace("\x00", "") or "imported"


@router.post("/import", status_code=201)
async def import_project(request: Request, file: UploadFile = File(...), s: Studio = Depends(studio)) -> ProjectView:
    check_content_length(request, s.config.max_project_bytes)
    data = await read_capped(file, s.config.max_project_bytes)
    canvas = await run_in_threadpool(_load_bytes, data, s)
    doc = s.store.create(canvas, _display_name(file.filename, s.config.limits.max_name_chars))
    with s.store.lock:
        result = view(doc)  # the loader and the API share one set of limits, so what loads can be served
    await run_in_threadpool(s.store.save_now, doc.id)  # on disk before the client hears of it
    return result


@router.get("/{project_id}/export")
def export_project(project_id: str, s: Studio = Depends(studio)) -> Response:
    with s.store.lock:
        doc = s.store.get(project_id)
        canvas, name = doc.snapshot(), doc.name
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "project"
    return Response(_save_bytes(canvas), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{safe}.lcp"'})
