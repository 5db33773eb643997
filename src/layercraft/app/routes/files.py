"""Project files: import an uploaded `.lcp` through the safe loader, export the project as `.lcp`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from ...canvas import Canvas, CanvasError, load_project, save_project
from ..context import Studio, studio
from ..errors import ApiError
from ..schemas import ProjectView
from ..uploads import check_content_length, read_capped
from .projects import view

router = APIRouter(prefix="/api/projects", tags=["files"])


def _load_bytes(data: bytes) -> Canvas:
    with tempfile.TemporaryDirectory(prefix="layercraft-import-") as tmp:
        path = Path(tmp) / "upload.lcp"  # our own name: the uploaded file name is never used as a path
        path.write_bytes(data)
        try:
            return load_project(path)
        except CanvasError as err:
            raise ApiError(422, "bad_project", str(err).replace(str(path), "project file")) from None


def _save_bytes(canvas: Canvas) -> bytes:
    with tempfile.TemporaryDirectory(prefix="layercraft-export-") as tmp:
        return save_project(canvas, Path(tmp) / "export.lcp").read_bytes()


def _display_name(filename: str | None) -> str:
    stem = Path((filename or "imported").replace("\\", "/")).name
    return (stem[:-4] if stem.endswith(".lcp") else stem)[:200] or "imported"


@router.post("/import", status_code=201)
async def import_project(request: Request, file: UploadFile = File(...), s: Studio = Depends(studio)) -> ProjectView:
    check_content_length(request, s.config.max_project_bytes)
    data = await read_capped(file, s.config.max_project_bytes)
    canvas = await run_in_threadpool(_load_bytes, data)
    doc = s.store.create(canvas, _display_name(file.filename))
    with s.store.lock:
        return view(doc)


@router.get("/{project_id}/export")
def export_project(project_id: str, s: Studio = Depends(studio)) -> Response:
    with s.store.lock:
        doc = s.store.get(project_id)
        canvas, name = doc.snapshot(), doc.name
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "project"
    return Response(_save_bytes(canvas), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{safe}.lcp"'})
