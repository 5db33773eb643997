"""Rasterize layers to full-canvas RGBA arrays, composite collages, boxes, masks, previews."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from .types import Canvas, Category, Layer


def _affine(layer: Layer, size: tuple[int, int]) -> np.ndarray:
    """3×3 matrix mapping pixel coords of the *flipped, resized* image of `size` to the canvas."""
    p = layer.placement
    w, h = size
    cx, cy = p.x + w / 2, p.y + h / 2
    t = np.radians(p.rotation)
    c, s = np.cos(t), np.sin(t)
    # rotate clockwise (y points down) about the box centre, after translating to (x, y)
    rot = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1]])
    move = np.array([[1, 0, p.x], [0, 1, p.y], [0, 0, 1]])
    return rot @ move


def _flipped(layer: Layer) -> Image.Image:
    p = layer.placement
    img = layer.image
    if p.flip_h:
        img = ImageOps.mirror(img)
    if p.flip_v:
        img = ImageOps.flip(img)
    return img


def _scaled_size(layer: Layer) -> tuple[int, int]:
    """Size of the layer image once resized by its placement scale (never 0)."""
    w, h = layer.image.size
    s = layer.placement.scale
    return (w, h) if s == 1.0 else (max(1, round(w * s)), max(1, round(h * s)))


def _resize_window(img: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float]) -> Image.Image:
    """`img.resize(size, BICUBIC, box=box)`, reading only the source pixels the filter reaches.

    The crop keeps the filter's whole support (or the true image edge) around the box, so the
    result is the same as resizing from the full image, at a cost that follows the window.
    """
    fx, fy = (box[2] - box[0]) / size[0], (box[3] - box[1]) / size[1]
    mx, my = int(np.ceil(2 * max(fx, 1.0))) + 2, int(np.ceil(2 * max(fy, 1.0))) + 2  # bicubic support is 2
    sx0, sy0 = max(0, int(np.floor(box[0])) - mx), max(0, int(np.floor(box[1])) - my)
    sx1, sy1 = min(img.width, int(np.ceil(box[2])) + mx), min(img.height, int(np.ceil(box[3])) + my)
    crop = img.crop((sx0, sy0, sx1, sy1))
    return crop.resize(size, Image.Resampling.BICUBIC, box=(box[0] - sx0, box[1] - sy0, box[2] - sx0, box[3] - sy0))


def _scaled(layer: Layer) -> Image.Image:
    """The layer image flipped and resized by its placement scale (antialiased)."""
    img = _flipped(layer)
    size = _scaled_size(layer)
    return img if size == img.size else img.resize(size, Image.Resampling.BICUBIC)


def layer_to_canvas(layer: Layer) -> np.ndarray:
    """3×3 matrix from the layer's *original* image pixel coords to canvas pixel coords."""
    w, h = layer.image.size
    sw, sh = _scaled_size(layer)
    pre = np.diag([sw / w, sh / h, 1.0])
    p = layer.placement
    if p.flip_h:
        pre = pre @ np.array([[-1, 0, w], [0, 1, 0], [0, 0, 1]])
    if p.flip_v:
        pre = pre @ np.array([[1, 0, 0], [0, -1, h], [0, 0, 1]])
    return _affine(layer, (sw, sh)) @ pre


def rasterize_layer(layer: Layer, width: int, height: int) -> np.ndarray:
    """The layer as a (height, width, 4) uint8 RGBA array at canvas size; outside is transparent.

    Integer translations without rotation are pasted pixel-exactly (locked layers stay lossless);
    anything else resamples premultiplied RGBA bicubically so edges do not darken. Memory is
    bounded by the canvas and the layer image, whatever the scale: only the part of the scaled
    image that lands on the canvas is ever resampled.
    """
    p = layer.placement
    sw, sh = _scaled_size(layer)
    out = np.zeros((height, width, 4), np.uint8)
    if p.rotation % 360 == 0 and float(p.x).is_integer() and float(p.y).is_integer():
        x0, y0 = int(p.x), int(p.y)
        cx0, cy0 = max(0, x0), max(0, y0)
        cx1, cy1 = min(width, x0 + sw), min(height, y0 + sh)
        if cx1 <= cx0 or cy1 <= cy0:
            return out
        img = _flipped(layer)
        if (sw, sh) == img.size:  # crop first: only the visible window is ever copied
            out[cy0:cy1, cx0:cx1] = np.asarray(img.crop((cx0 - x0, cy0 - y0, cx1 - x0, cy1 - y0)))
        else:  # the visible window of the full resize, computed alone (same filter, same sample centres)
            fx, fy = img.width / sw, img.height / sh
            box = ((cx0 - x0) * fx, (cy0 - y0) * fy, (cx1 - x0) * fx, (cy1 - y0) * fy)
            out[cy0:cy1, cx0:cx1] = np.asarray(_resize_window(img, (cx1 - cx0, cy1 - cy0), box))
        return out
    # Rotated or sub-pixel: resample only the window of the scaled image that the canvas sees (its
    # preimage's bounding box plus the bicubic support), so the cost follows the canvas, not the scale.
    inv = np.linalg.inv(_affine(layer, (sw, sh)))  # canvas → scaled-image pixel coords
    corners = inv @ np.array([[0, width, 0, width], [0, 0, height, height], [1, 1, 1, 1]], np.float64)
    margin = 3
    u0, v0 = (max(0, int(np.floor(corners[i].min())) - margin) for i in (0, 1))
    u1, v1 = min(sw, int(np.ceil(corners[0].max())) + margin), min(sh, int(np.ceil(corners[1].max())) + margin)
    if u1 <= u0 or v1 <= v0:
        return out
    img = _flipped(layer)
    if (sw, sh) == img.size:
        window = img.crop((u0, v0, u1, v1))
    else:  # the window of the full resize, computed alone (same filter, same sample centres)
        fx, fy = img.width / sw, img.height / sh
        window = _resize_window(img, (u1 - u0, v1 - v0), (u0 * fx, v0 * fy, u1 * fx, v1 * fy))
    to_window = np.array([[1, 0, -u0], [0, 1, -v0], [0, 0, 1]], np.float64) @ inv
    warped = window.convert("RGBa").transform(
        (width, height), Image.Transform.AFFINE, tuple(to_window[:2].ravel()), Image.Resampling.BICUBIC
    )
    return np.asarray(warped.convert("RGBA"))


def landmarks_on_canvas(layer: Layer) -> np.ndarray | None:
    """The layer's 5 landmarks in canvas pixel coordinates, (5, 2), or None."""
    if layer.landmarks is None:
        return None
    pts = np.asarray(layer.landmarks, np.float64)
    m = layer_to_canvas(layer)
    return pts @ m[:2, :2].T + m[:2, 2]


def alpha_box(alpha: np.ndarray, threshold: int = 0) -> tuple[int, int, int, int] | None:
    """Tight box (x0, y0, x1, y1), end-exclusive, of pixels with alpha > threshold; None if empty."""
    ys, xs = np.nonzero(alpha > threshold)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@dataclass
class LayerRaster:
    """One visible layer, ready for conditioning.

    `rgba` is canvas-aligned (H, W, 4) for placed layers, and the layer's own image for category
    references (`placed=False`).
    """

    id: str
    rgba: np.ndarray
    locked: bool
    category: Category
    placed: bool
    descriptor: str | None

    @property
    def alpha(self) -> np.ndarray:  # (H, W) float in [0, 1]
        return self.rgba[..., 3].astype(np.float32) / 255.0

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        return alpha_box(self.rgba[..., 3]) if self.placed else None

    @property
    def mask(self) -> np.ndarray:  # (H, W) bool, alpha >= 0.5
        return self.rgba[..., 3] >= 128


def rasterize(canvas: Canvas) -> list[LayerRaster]:
    """Visible layers, background first then back to front, each rasterized."""
    out = []
    for layer in canvas.all_layers():
        if not layer.visible:
            continue
        rgba = rasterize_layer(layer, canvas.width, canvas.height) if layer.placed else np.asarray(layer.image)
        out.append(LayerRaster(layer.id, rgba, layer.locked, layer.category, layer.placed, layer.descriptor))
    return out


def composite(canvas: Canvas, base: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """The collage: placed visible layers alpha-composited in z-order over a plain base (RGB)."""
    out = Image.new("RGBA", (canvas.width, canvas.height), (*base, 255))
    for r in rasterize(canvas):
        if r.placed:
            out.alpha_composite(Image.fromarray(r.rgba, "RGBA"))
    return out.convert("RGB")


def visible_masks(layers: list[LayerRaster]) -> np.ndarray:
    """(N, H, W) bool: where each placed layer is the front-most opaque one (alpha >= 0.5)."""
    masks = np.stack([r.mask for r in layers if r.placed])
    seen = np.zeros(masks.shape[1:], bool)
    out = np.zeros_like(masks)
    for i in range(len(masks) - 1, -1, -1):
        out[i] = masks[i] & ~seen
        seen |= masks[i]
    return out


_LOCKED = (220, 40, 40)
_UNLOCKED = (40, 110, 230)


def preview(canvas: Canvas, min_side: int = 384) -> Image.Image:
    """Collage with each layer's box: red = locked (tag says LOCK), blue = unlocked, and the z-order
    index (0 = back) in the tag. Small canvases are upscaled (nearest) to at least `min_side` so the
    tags stay readable. Category references are shown in a strip below."""
    k = max(1, -(-min_side // max(canvas.width, canvas.height)))
    size = (canvas.width * k, canvas.height * k)
    img = composite(canvas, base=(236, 236, 236)).resize(size, Image.Resampling.NEAREST)
    rasters = rasterize(canvas)
    refs = [r for r in rasters if not r.placed]
    strip = 64 if refs else 0
    sheet = Image.new("RGB", (img.width, img.height + strip), (250, 250, 250))
    sheet.paste(img, (0, 0))
    draw = ImageDraw.Draw(sheet)
    for z, r in enumerate(x for x in rasters if x.placed):
        box = r.box
        if box is None:
            continue
        x0, y0, x1, y1 = (v * k for v in box)
        colour = _LOCKED if r.locked else _UNLOCKED
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour, width=2)
        tag = f"{z}{' LOCK' if r.locked else ''} {r.id}"
        draw.rectangle((x0, y0, x0 + 6 * len(tag) + 4, y0 + 11), fill=colour)
        draw.text((x0 + 2, y0), tag, fill=(255, 255, 255))
    x = 2
    for r in refs:
        thumb = Image.fromarray(r.rgba, "RGBA")
        thumb.thumbnail((strip - 14, strip - 14))
        sheet.paste(thumb, (x, img.height + 12), thumb)
        draw.text((x, img.height), r.category.value, fill=(0, 0, 0))
        x += max(thumb.width, 6 * len(r.category.value)) + 8
    return sheet
