"""Subjects of a canvas for the UNet-era methods: per placed layer its box (normalised), full-canvas mask, the
masked subject image on a plain background, category and descriptor. Boxes and masks come from the layers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ...canvas.raster import rasterize
from ...canvas.types import Canvas, Category


@dataclass
class Subject:
    layer_id: str
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1) in [0, 1] of the canvas
    mask: np.ndarray  # (H, W) bool at canvas size
    image: Image.Image  # the layer's own image on `background` (RGB), the reference for the image encoder
    own_mask: np.ndarray  # (h, w) bool alpha of the layer's own image
    placed_image: Image.Image  # the layer rasterised at canvas size on `background` (RGB), the refiner's input
    category: Category
    descriptor: str | None

    @property
    def words(self) -> str:
        return self.descriptor or self.category.value.replace("_", " ")


def _on(rgba: np.ndarray, background: tuple[int, int, int]) -> Image.Image:
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * a + np.asarray(background, np.float32) * (1 - a)
    return Image.fromarray(rgb.round().astype(np.uint8))


def canvas_subjects(canvas: Canvas, background: tuple[int, int, int] = (255, 255, 255)) -> list[Subject]:
    """Placed, visible, non-background layers with non-empty alpha, back to front."""
    out = []
    bg_id = canvas.background.id if canvas.background is not None else None
    by_id = {layer.id: layer for layer in canvas.all_layers()}
    for r in rasterize(canvas):
        if r.id == bg_id or not r.placed or r.category == Category.background or r.box is None:
            continue
        x0, y0, x1, y1 = r.box
        box = (x0 / canvas.width, y0 / canvas.height, x1 / canvas.width, y1 / canvas.height)
        own = np.asarray(by_id[r.id].image.convert("RGBA"))
        out.append(Subject(r.id, box, r.mask, _on(own, background), own[..., 3] >= 128, _on(r.rgba, background),
                           r.category,
                           r.descriptor))
    return out
