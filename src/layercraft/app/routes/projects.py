"""Projects: create, list, read, replace the whole state (autosave, undo, redo), collage PNG."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from ...canvas import Canvas, composite
from ..context import Studio, studio
from ..document import Document
from ..errors import ApiError
from ..jobs import png_bytes
from ..schemas import NewProject, ProjectDoc, ProjectView

router = APIRouter(prefix="/api/projects", tags=["projects"])


def view(doc: Document) -> ProjectView:
    return ProjectView(id=doc.id, name=doc.name, revision=doc.revision, canvas=doc.state(), settings=doc.settings,
                       history=[r.entry for r in doc.history])


@router.post("", status_code=201)
def create_project(body: NewProject, s: Studio = Depends(studio)) -> ProjectView:
    doc = s.store.create(Canvas(width=body.width, height=body.height, prompt=body.prompt), body.name)
    return view(doc)


@router.get("")
def list_projects(s: Studio = Depends(studio)) -> list[dict]:
    return s.store.list()


@router.get("/{project_id}")
def get_project(project_id: str, s: Studio = Depends(studio)) -> ProjectView:
    with s.store.lock:
        return view(s.store.get(project_id))


@router.put("/{project_id}")
def put_project(project_id: str, body: ProjectDoc, s: Studio = Depends(studio)) -> ProjectView:
    """Replace canvas state and settings at once; the editor's autosave, undo and redo all use this."""
    with s.store.lock:
        doc = s.store.get(project_id)
        doc.apply_state(body.canvas)
        doc.settings = body.settings
        s.store.changed(doc)
        return view(doc)


@router.get("/{project_id}/collage.png")
def collage(project_id: str, s: Studio = Depends(studio)) -> Response:
    with s.store.lock:
        canvas = s.store.get(project_id).snapshot()
    return Response(png_bytes(composite(canvas)), media_type="image/png",
                    headers={"Content-Disposition": f'attachment; filename="{project_id}-collage.png"'})


@router.get("/{project_id}/images/{image_id}.png")
def layer_image(project_id: str, image_id: str, s: Studio = Depends(studio)) -> Response:
    with s.store.lock:
        asset = s.store.get(project_id).assets.get(image_id)
    if asset is None:
        raise ApiError(404, "image_not_found", f"project {project_id!r} has no image {image_id!r}")
    return Response(png_bytes(asset.image), media_type="image/png", headers={"Cache-Control": "max-age=31536000"})
