"""Canvases from real photos: LayerComposer's automatic canvas and AnyPhoto's location canvas.

`canvas_from_photos(photos, prior=…)`:
- scheme `layercomposer` (LayerComposer appendix A.2): the main person of each photo (the one with
  the largest face) is cut out by `PersonSegmenter` and becomes one RGBA person layer, scaled and
  moved — no rotation — so that its 5 face landmarks land, in the least-squares sense, on the
  landmarks of one face of the PRIOR image (a photo or a prompt-only generation whose layout the
  user likes). Layers go back to front by the size of their target face (bigger faces in front).
- scheme `anyphoto`: each photo's largest face, aligned onto the ArcFace 112×112 template, is
  placed by `canvas.builders.location_layer` (the paper's similarity estimate) at the prior face.
- without a prior: a row layout, one column per photo, each person fitted in it and standing on
  the canvas's lower edge.

Photos are matched to prior faces left to right (photo k → the k-th prior face from the left), or
by `order` (photo k → prior face `order[k]`, counted from the left). The canvas is the prior's
aspect ratio with its longer side `size` pixels, rounded to a multiple of `stride`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..canvas.builders import fit_in_box, location_layer
from ..canvas.types import Canvas, Category, Layer, Placement
from ..canvas.validate import MAX_LAYERS
from ..conditioning.schemes import ANYPHOTO, LAYERCOMPOSER
from .errors import NoFaceError, VisionError
from .faces import ARCFACE_TEMPLATE, Face, FaceAnalyzer, align_face
from .people import PersonSegmenter

SCHEMES = (LAYERCOMPOSER.name, ANYPHOTO.name)  # the schemes a canvas from photos is built for


@dataclass
class Subject:
    """The main person of one photo: its RGBA cut-out (cropped) and face landmarks in cut-out pixels."""

    image: Image.Image
    landmarks: np.ndarray
    face: Face
    name: str


def fit_scale_translation(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares s, t with s·src + t ≈ dst (no rotation)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ps, pd = src - src.mean(0), dst - dst.mean(0)
    denom = float((ps**2).sum())
    if denom <= 1e-9:
        raise VisionError("face landmarks are degenerate (all at one point)")
    s = float((ps * pd).sum() / denom)
    if s <= 0:
        raise VisionError("face landmarks cannot be matched by a positive scale")
    return s, dst.mean(0) - s * src.mean(0)


def place_by_landmarks(layer_id: str, image: Image.Image, landmarks: np.ndarray, target: np.ndarray, *,
                       category: Category = Category.person, locked: bool = False,
                       max_upscale: float = 8.0) -> Layer:
    """A layer showing `image` scaled and moved so that `landmarks` land on `target` (least squares).

    The image is resampled to the size it takes on the canvas (placement scale 1) when that is a
    reduction, so large photos do not bloat the project; the offset uses the realised size, so
    the rounding of the resize adds no error."""
    s, _ = fit_scale_translation(landmarks, target)
    s = min(s, max_upscale)
    w, h = image.size
    size = max(1, round(w * s)), max(1, round(h * s))
    realised = np.array([size[0] / w, size[1] / h])
    lms = np.asarray(landmarks, np.float64)
    if s < 1.0:  # store the reduced image; placement scale 1
        image, lms, scale = image.resize(size, Image.Resampling.LANCZOS), lms * realised, 1.0
        realised = np.ones(2)
    else:
        scale = s
    off = (np.asarray(target, np.float64) - lms * realised).mean(0)
    return Layer(id=layer_id, image=image, placement=Placement(x=float(off[0]), y=float(off[1]), scale=scale),
                 category=category, locked=locked, landmarks=lms.tolist())


def canvas_size(width: int, height: int, size: int, stride: int) -> tuple[int, int]:
    s = size / max(width, height)
    return (max(stride, round(width * s / stride) * stride), max(stride, round(height * s / stride) * stride))


def match_order(n_photos: int, prior_faces: Sequence[Face], order: Sequence[int] | None) -> list[int]:
    """Index into `prior_faces` for each photo (left-to-right by default, or by `order`)."""
    if n_photos > len(prior_faces):
        raise VisionError(f"the prior has {len(prior_faces)} face(s) but {n_photos} photos were given")
    ltr = sorted(range(len(prior_faces)), key=lambda i: prior_faces[i].center[0])
    if order is None:
        return ltr[:n_photos]
    order = list(order)
    if len(order) != n_photos:
        raise VisionError(f"--order has {len(order)} entries but {n_photos} photos were given")
    if len(set(order)) != len(order) or not all(0 <= k < len(prior_faces) for k in order):
        raise VisionError(f"--order must name distinct prior faces 0-{len(prior_faces) - 1} (left to right)")
    return [ltr[k] for k in order]


class PhotoCanvasBuilder:
    """Builds canvases from photos with one FaceAnalyzer and one PersonSegmenter (models load once)."""

    def __init__(self, analyzer: FaceAnalyzer | None = None, segmenter: PersonSegmenter | None = None) -> None:
        self.analyzer = analyzer or FaceAnalyzer()
        self.segmenter = segmenter or PersonSegmenter(self.analyzer)

    def subject(self, photo: Image.Image, name: str = "photo") -> Subject:
        """The person with the largest face in `photo`, cut out; NoFaceError if the photo has no face."""
        faces = self.analyzer.detect(photo)
        if not faces:
            raise NoFaceError(f"{name}: no face found")
        people = self.segmenter.split(photo, faces)
        main = [p for p in people if p.face is faces[0]]
        if not main:
            raise VisionError(f"{name}: the person with the largest face has no mask")
        person = main[0]
        crop = person.layer(photo, crop=True)
        return Subject(crop, faces[0].landmarks - person.box[:2], faces[0], name)

    def build(self, photos: Sequence[Image.Image], *, prior: Image.Image | None = None,
              scheme: str = LAYERCOMPOSER.name, order: Sequence[int] | None = None, size: int = 512,
              stride: int = 16, prompt: str = "", names: Sequence[str] | None = None,
              locked: Sequence[int] = (), max_layers: int = MAX_LAYERS, rotate: bool = False,
              canvas_wh: tuple[int, int] | None = None) -> Canvas:
        """The canvas (see the module docstring). `canvas_wh` fixes the canvas size instead of `size`
        (the prior is then stretched onto it)."""
        if scheme not in SCHEMES:
            raise VisionError(f"unknown scheme {scheme!r}: use one of {', '.join(SCHEMES)}")
        if not photos:
            raise VisionError("give at least one photo")
        if len(photos) > max_layers:
            raise VisionError(f"{len(photos)} photos make {len(photos)} layers, more than the limit of {max_layers}")
        names = list(names or [f"photo {k}" for k in range(len(photos))])
        bad = [k for k in locked if not 0 <= k < len(photos)]
        if bad:
            raise VisionError(f"--lock {bad}: there are only {len(photos)} photos (0-{len(photos) - 1})")
        if prior is not None:
            prior_faces = self.analyzer.detect(prior)
            if not prior_faces:
                raise NoFaceError("prior: no face found")
            width, height = canvas_wh or canvas_size(*prior.size, size, stride)
            factor = np.array([width / prior.width, height / prior.height])
            targets = [prior_faces[i].landmarks * factor for i in match_order(len(photos), prior_faces, order)]
        else:
            width, height = canvas_wh or (canvas_size(size, size, size, stride) if scheme == ANYPHOTO.name else
                                          canvas_size(max(1, len(photos)) * 3, 4, size, stride))
            targets = None
        layers = []
        for k, photo in enumerate(photos):
            lid = f"person{k}" if scheme == LAYERCOMPOSER.name else f"face{k}"
            lock = k in locked
            if scheme == ANYPHOTO.name:
                face = self.analyzer.largest(photo, embed=False, name=names[k])
                crop = align_face(photo, face.landmarks, 112)
                target = targets[k] if targets is not None else _row_face_target(k, len(photos), width, height)
                layer = location_layer(lid, crop, ARCFACE_TEMPLATE, target, rotate=rotate, locked=lock)
            else:
                sub = self.subject(photo, names[k])
                if targets is not None:
                    layer = place_by_landmarks(lid, sub.image, sub.landmarks, targets[k], locked=lock)
                else:
                    layer = _row_layer(lid, sub, k, len(photos), width, height, lock)
            layer.name = names[k]
            layers.append((layer, _target_size(targets[k]) if targets is not None else 0.0, k))
        layers.sort(key=lambda t: (t[1], t[2]))
        return Canvas(width=width, height=height, layers=[t[0] for t in layers], prompt=prompt)


def _target_size(lms: np.ndarray) -> float:
    lms = np.asarray(lms)
    return float(np.linalg.norm(lms[:2].mean(0) - lms[3:].mean(0)))


def _row_face_target(k: int, n: int, width: int, height: int) -> np.ndarray:
    """Landmarks of an upright face centred in slot k of n across the canvas (anyphoto without a prior)."""
    slot = width / n
    side = min(slot * 0.8, height * 0.5)
    centre = np.array([slot * (k + 0.5), height * 0.4])
    return (ARCFACE_TEMPLATE - 56.0) * (side / 112.0) + centre


def _row_layer(lid: str, sub: Subject, k: int, n: int, width: int, height: int, locked: bool) -> Layer:
    """Person k of n in its own column, fitted inside it and standing on the canvas's lower edge."""
    slot = width / n
    margin = 0.04 * slot
    layer = fit_in_box(lid, sub.image, (slot * k + margin, height * 0.08, slot * (k + 1) - margin, height),
                       category=Category.person, locked=locked)
    p = layer.placement
    layer.placement = Placement(x=p.x, y=round(height - sub.image.height * p.scale), scale=p.scale)
    layer.landmarks = np.asarray(sub.landmarks, np.float64).tolist()
    return bake_reduction(layer)


def bake_reduction(layer: Layer) -> Layer:
    """A layer shown reduced (placement scale < 1) gets its image resampled to the shown size and
    scale 1: the same pixels on the canvas (the rasterizer resizes to the same rounded size), and a
    big photo does not bloat the project."""
    p = layer.placement
    if p.scale >= 1.0 or p.rotation:
        return layer
    w, h = layer.image.size
    size = max(1, round(w * p.scale)), max(1, round(h * p.scale))
    image = layer.image.resize(size, Image.Resampling.BICUBIC)
    lms = None if layer.landmarks is None else (np.asarray(layer.landmarks) * [size[0] / w, size[1] / h]).tolist()
    return layer.model_copy(update={"image": image, "landmarks": lms,
                                    "placement": Placement(x=p.x, y=p.y, flip_h=p.flip_h, flip_v=p.flip_v)})
