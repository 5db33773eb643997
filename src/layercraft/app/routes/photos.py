"""Real photos in the studio: split a photo into one layer per person, or build the layout canvas.

- POST /api/projects/{id}/people (file): every person in the photo becomes a person layer, placed
  where they stand in the photo (the photo fitted inside the canvas, centred).
- POST /api/projects/{id}/from-photos (files, optional prior, scheme): LayerComposer's automatic
  canvas (scheme `layercomposer`: people cut out and placed on the prior's faces) or AnyPhoto's
  location canvas (scheme `anyphoto`: aligned face crops at the prior's landmarks); without a prior,
  a row layout. The new layers are added on top of the project's layers.

The bundled vision models load on first use, once per process; a photo without a face is a 422.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from ...canvas import Category, Placement
from ...canvas.validate import MAX_LAYERS
from ...conditioning.names import DEFAULT_SCHEME
from ...vision.assets import ModelMissingError
from ...vision.errors import NoFaceError, PhotoError, VisionError
from ..context import Studio, studio
from ..errors import ApiError
from ..uploads import check_content_length, read_capped
from .projects import view

router = APIRouter(prefix="/api/projects/{project_id}", tags=["photos"])
_lock = threading.Lock()  # the models are shared by all requests; one photo at a time


@lru_cache(maxsize=1)
def _builder():
    from ...vision.photo_canvas import PhotoCanvasBuilder

    return PhotoCanvasBuilder()


def _photo(data: bytes, name: str, max_pixels: int):
    from ...vision.photo import load_photo

    return load_photo(data, name=name, max_pixels=max_pixels)


def _vision(fn, *args, **kwargs):
    try:
        with _lock:
            return fn(*args, **kwargs)
    except PhotoError as err:
        raise ApiError(415, "bad_image", str(err)) from None
    except NoFaceError as err:
        raise ApiError(422, "no_face", str(err)) from None
    except ModelMissingError as err:
        raise ApiError(501, "vision_models_missing", str(err)) from None
    except VisionError as err:
        raise ApiError(422, "bad_photos", str(err)) from None


def _split(data: bytes, name: str, max_pixels: int, width: int, height: int):
    """Each person's cropped RGBA and its placement on a width × height canvas (the photo fitted inside)."""
    photo = _photo(data, name, max_pixels)
    people = _builder().segmenter.split(photo)
    if not people:
        raise NoFaceError(f"{name}: no person found")
    s = min(width / photo.width, height / photo.height)
    ox, oy = (width - photo.width * s) / 2, (height - photo.height * s) / 2
    out = []
    for person in people:
        crop = person.layer(photo, crop=True)
        lms = None if person.face is None else (person.face.landmarks - person.box[:2]).tolist()
        out.append((crop, Placement(x=ox + float(person.box[0]) * s, y=oy + float(person.box[1]) * s, scale=s), lms))
    return out


@router.post("/people", status_code=201)
async def split_people(project_id: str, request: Request, file: UploadFile = File(...), name: str = Form(""),
                       s: Studio = Depends(studio)) -> dict:
    """One person layer per person in the uploaded photo, placed as they stand in it."""
    check_content_length(request, s.config.max_upload_bytes)
    with s.store.lock:
        doc = s.store.get(project_id)
        width, height = doc.canvas.width, doc.canvas.height
    data = await read_capped(file, s.config.max_upload_bytes)
    label = name or (file.filename or "photo")
    parts = await run_in_threadpool(_vision, _split, data, label, s.config.max_image_pixels, width, height)
    with s.store.lock:
        doc = s.store.get(project_id)
        if len(doc.canvas.layers) + len(parts) > MAX_LAYERS:
            raise ApiError(422, "too_many_layers", f"{label}: {len(parts)} people would make "
                           f"{len(doc.canvas.layers) + len(parts)} layers, more than the limit of {MAX_LAYERS}")
        ids = []
        for k, (image, placement, lms) in enumerate(parts):
            layer = doc.add_layer(image, f"{label} person {k}", Category.person)
            layer.placement = placement
            layer.landmarks = lms
            ids.append(layer.id)
        s.store.changed(doc)
        return {"layer_ids": ids, "project": view(doc).model_dump(mode="json")}


def _build(photos: list[tuple[bytes, str]], prior: tuple[bytes, str] | None, scheme: str, max_pixels: int,
           width: int, height: int, max_layers: int):
    images = [_photo(d, n, max_pixels) for d, n in photos]
    prior_img = None if prior is None else _photo(*prior, max_pixels)
    from ...vision.photo_canvas import SCHEMES as PHOTO_SCHEMES

    if scheme not in PHOTO_SCHEMES:  # a project on another scheme gets the cut-out people canvas
        scheme = DEFAULT_SCHEME
    canvas = _builder().build(images, prior=prior_img, scheme=scheme, canvas_wh=(width, height),
                              names=[n for _, n in photos], max_layers=max_layers)
    return canvas.layers


@router.post("/from-photos", status_code=201)
async def from_photos(project_id: str, request: Request, files: list[UploadFile] = File(...),
                      prior: UploadFile | None = File(None), scheme: str = Form(DEFAULT_SCHEME),
                      s: Studio = Depends(studio)) -> dict:
    """Add one layer per photo, faces placed on the prior's faces (or in a row without a prior)."""
    check_content_length(request, s.config.max_upload_bytes)
    with s.store.lock:
        doc = s.store.get(project_id)
        width, height = doc.canvas.width, doc.canvas.height
        room = MAX_LAYERS - len(doc.canvas.layers)
    photos = [(await read_capped(f, s.config.max_upload_bytes), f.filename or f"photo {k}")
              for k, f in enumerate(files)]
    prior_data = None if prior is None else (await read_capped(prior, s.config.max_upload_bytes),
                                             prior.filename or "prior")
    layers = await run_in_threadpool(_vision, _build, photos, prior_data, scheme, s.config.max_image_pixels,
                                     width, height, max(room, 0))
    with s.store.lock:
        doc = s.store.get(project_id)
        ids = []
        for built in layers:
            layer = doc.add_layer(built.image, built.name, built.category)
            layer.placement = built.placement
            layer.landmarks = built.landmarks
            ids.append(layer.id)
        s.store.changed(doc)
        return {"layer_ids": ids, "project": view(doc).model_dump(mode="json")}
