"""Ways to make a canvas from the inputs other methods take.

- `from_references`: reference images + boxes (LCP-Diffusion / MS-Diffusion style input).
- `location_layer` / `location_canvas`: AnyPhoto's location canvas (a norm-cropped face placed at
  target landmarks by a scikit-image similarity estimate, scale clamped, alpha binarised).
- `category_references`: One-for-All category references (face, upper, lower, bag), unplaced.
- `background_layer`: an image covering the whole canvas, locked by default.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image
from skimage.transform import SimilarityTransform

from .errors import CanvasError
from .raster import rasterize
from .types import Canvas, Category, Layer, Placement

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in canvas pixels


def fit_in_box(layer_id: str, image: Image.Image, box: Box, *, category: Category = Category.person,
               locked: bool = False, descriptor: str | None = None, fit: str = "contain") -> Layer:
    """A layer showing `image` scaled to fit (`contain`) or fill (`cover`) `box`, centred in it."""
    x0, y0, x1, y1 = box
    if not (x1 > x0 and y1 > y0):
        raise CanvasError(f"layer {layer_id!r}: box {box} has no area")
    w, h = image.size
    ratios = (x1 - x0) / w, (y1 - y0) / h
    s = min(ratios) if fit == "contain" else max(ratios)
    x = x0 + ((x1 - x0) - w * s) / 2
    y = y0 + ((y1 - y0) - h * s) / 2
    return Layer(id=layer_id, image=image, placement=Placement(x=round(x), y=round(y), scale=s),
                 category=category, locked=locked, descriptor=descriptor)


def from_references(images: Sequence[Image.Image], boxes: Sequence[Box], width: int, height: int, *,
                    categories: Sequence[Category] | None = None, locked: Sequence[bool] | None = None,
                    descriptors: Sequence[str | None] | None = None, prompt: str = "",
                    background: Image.Image | None = None) -> Canvas:
    """One layer per (image, box), back to front in the given order."""
    n = len(images)
    if len(boxes) != n:
        raise CanvasError(f"got {n} images but {len(boxes)} boxes")
    categories = categories or [Category.person] * n
    locked = locked or [False] * n
    descriptors = descriptors or [None] * n
    layers = [
        fit_in_box(f"l{k}", im, box, category=Category(cat), locked=lk, descriptor=desc)
        for k, (im, box, cat, lk, desc) in enumerate(zip(images, boxes, categories, locked, descriptors, strict=True))
    ]
    bg = background_layer(background, width, height) if background is not None else None
    return Canvas(width=width, height=height, layers=layers, background=bg, prompt=prompt)


def location_layer(layer_id: str, face: Image.Image, face_landmarks: np.ndarray, target_landmarks: np.ndarray,
                   *, scale_range: tuple[float, float] = (0.05, 20.0), rotate: bool = False,
                   alpha: Image.Image | None = None, locked: bool = False) -> Layer:
    """AnyPhoto location-canvas placement of one norm-cropped face (appendix, eq. 26-30).

    The similarity transform is estimated from target (image) to source (patch) landmarks, as the
    paper does, so the patch-to-image scale is the reciprocal of its scale, clamped to
    `scale_range`. The patch is resized (alpha nearest, then binarised at 0.5) and put at the
    integer offset given by the mean landmark residual. Deviation, on purpose: the residual uses
    the scale the resize realised (integer size / original size) so rounding never adds error;
    placed landmarks land within √0.5 px of the targets when the targets are a similarity of the
    sources. `rotate=True` also turns the patch by the estimated angle (LayerComposer 1P canvases).
    """
    src = np.asarray(face_landmarks, np.float64).reshape(5, 2)
    dst = np.asarray(target_landmarks, np.float64).reshape(5, 2)
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise CanvasError(f"layer {layer_id!r}: landmarks must be finite numbers")
    inv = SimilarityTransform.from_estimate(dst, src)  # image → patch, the paper's argument order
    if not inv:
        raise CanvasError(f"layer {layer_id!r}: landmarks are degenerate (no similarity transform)")
    s = float(np.clip(1.0 / inv.scale, *scale_range))
    w, h = face.size
    size = max(1, round(w * s)), max(1, round(h * s))
    rgb = face.convert("RGBA").resize(size, Image.Resampling.BICUBIC)
    a = (alpha or face.convert("RGBA").getchannel("A")).resize(size, Image.Resampling.NEAREST)
    rgb.putalpha(a.point(lambda v: 255 if v >= 128 else 0))
    realised = np.array([size[0] / w, size[1] / h])
    lms = src * realised  # landmarks in the resized patch
    if rotate:
        theta = -float(inv.rotation)  # patch → image angle
        c, sn = np.cos(theta), np.sin(theta)
        rot = np.array([[c, -sn], [sn, c]])
        t = (dst - lms @ rot.T).mean(0)
        half = np.array(size) / 2
        xy = t + rot @ half - half
        placement = Placement(x=float(xy[0]), y=float(xy[1]), rotation=float(np.degrees(theta)))
    else:
        off = np.round((dst - lms).mean(0))
        placement = Placement(x=float(off[0]), y=float(off[1]))
    return Layer(id=layer_id, image=rgb, placement=placement, category=Category.face, locked=locked,
                 landmarks=lms.tolist())


def location_canvas(faces: Sequence[tuple[Image.Image, np.ndarray]], targets: Sequence[np.ndarray],
                    width: int, height: int, prompt: str = "", **kw) -> Canvas:
    """A canvas with one face layer per (face crop, its landmarks) placed at each target."""
    if len(faces) != len(targets):
        raise CanvasError(f"got {len(faces)} faces but {len(targets)} target landmark sets")
    pairs = enumerate(zip(faces, targets, strict=True))
    layers = [location_layer(f"face{k}", im, lm, tgt, **kw) for k, ((im, lm), tgt) in pairs]
    return Canvas(width=width, height=height, layers=layers, prompt=prompt)


def location_canvas_image(canvas: Canvas) -> tuple[Image.Image, np.ndarray]:
    """The paper's Ĉ and M: faces alpha-composited on a white canvas, and the binary union mask."""
    out = Image.new("RGBA", (canvas.width, canvas.height), (255, 255, 255, 255))
    mask = np.zeros((canvas.height, canvas.width), bool)
    for r in rasterize(canvas):
        if r.placed:
            out.alpha_composite(Image.fromarray(r.rgba, "RGBA"))
            mask |= r.mask
    return out.convert("RGB"), mask


def category_references(refs: dict[Category | str, Image.Image], width: int, height: int, *,
                        descriptors: dict[Category | str, str] | None = None, prompt: str = "") -> Canvas:
    """One-for-All input: one unplaced reference layer per category (face, upper, lower, bag...)."""
    descriptors = {Category(k): v for k, v in (descriptors or {}).items()}
    layers = []
    for key, img in refs.items():
        cat = Category(key)
        layers.append(Layer(id=cat.value, image=img, placed=False, category=cat, descriptor=descriptors.get(cat)))
    return Canvas(width=width, height=height, layers=layers, prompt=prompt)


def background_layer(image: Image.Image, width: int, height: int, *, locked: bool = True,
                     layer_id: str = "bg") -> Layer:
    """`image` scaled to cover the canvas and centred (cropping the overflow), fully opaque."""
    layer = fit_in_box(layer_id, image, (0, 0, width, height), category=Category.background, locked=locked,
                       fit="cover")
    if layer.image.mode == "RGBA" and np.asarray(layer.image)[..., 3].min() < 255:
        opaque = layer.image.copy()
        opaque.putalpha(255)
        layer.image = opaque
    return layer
