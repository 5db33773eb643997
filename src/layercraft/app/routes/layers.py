"""Layers: upload an image as a layer (or the background), edit, reorder, duplicate, delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from ...canvas import Category
from ..background_removal import UNAVAILABLE
from ..context import Studio, studio
from ..errors import ApiError
from ..schemas import FromResult, LayerPatch, ProjectView
from ..uploads import check_content_length, decode_image, read_capped
from .projects import view

router = APIRouter(prefix="/api/projects/{project_id}", tags=["layers"])


@router.post("/layers", status_code=201)
async def upload_layer(project_id: str, request: Request, file: UploadFile = File(...), name: str = Form(""),
                       category: Category = Form(Category.person), background: bool = Form(False),
                       remove_background: bool = Form(False), s: Studio = Depends(studio)) -> dict:
    """Add the uploaded image as a new top layer, or (background=true) as the locked background."""
    check_content_length(request, s.config.max_upload_bytes)
    with s.store.lock:
        s.store.get(project_id)  # 404 before reading a large body for nothing
    data = await read_capped(file, s.config.max_upload_bytes)
    label = name or (file.filename or "upload")[: s.config.limits.max_name_chars]
    image = await run_in_threadpool(decode_image, data, label, s.config.max_image_pixels)
    if remove_background:
        if s.remover is None:
            raise ApiError(501, "background_removal_unavailable", UNAVAILABLE)
        image = await run_in_threadpool(s.remover, image)
    with s.store.lock:
        doc = s.store.get(project_id)
        budget = s.config.limits.max_project_pixels
        layer = (doc.set_background(image, label, budget) if background
                 else doc.add_layer(image, label, category, budget))
        # (a name over the limits, or an image over the project's pixel budget, is refused with nothing changed)
        s.store.changed(doc)
        return {"layer_id": layer.id, "project": view(doc).model_dump(mode="json")}


@router.patch("/layers/{layer_id}")
def patch_layer(project_id: str, layer_id: str, patch: LayerPatch, s: Studio = Depends(studio)) -> ProjectView:
    with s.store.lock:
        doc = s.store.get(project_id)
        doc.patch_layer(layer_id, patch)
        s.store.changed(doc)
        return view(doc)


@router.post("/layers/{layer_id}/duplicate", status_code=201)
def duplicate_layer(project_id: str, layer_id: str, s: Studio = Depends(studio)) -> dict:
    with s.store.lock:
        doc = s.store.get(project_id)
        copy = doc.duplicate_layer(layer_id)
        s.store.changed(doc)
        return {"layer_id": copy.id, "project": view(doc).model_dump(mode="json")}


@router.delete("/layers/{layer_id}")
def delete_layer(project_id: str, layer_id: str, s: Studio = Depends(studio)) -> ProjectView:
    with s.store.lock:
        doc = s.store.get(project_id)
        doc.delete_layer(layer_id)
        s.store.changed(doc)
        return view(doc)


@router.post("/background-from-result")
def background_from_result(project_id: str, body: FromResult, s: Studio = Depends(studio)) -> ProjectView:
    """Make a generated result the canvas's locked background, for iterative composition."""
    with s.store.lock:
        doc = s.store.get(project_id)
        result = doc.result(body.job_id)
    image = decode_image(result.png, f"result {body.job_id}", s.config.max_image_pixels)
    with s.store.lock:
        doc = s.store.get(project_id)
        doc.set_background(image, f"result {body.job_id}", s.config.limits.max_project_pixels)
        s.store.changed(doc)
        return view(doc)
