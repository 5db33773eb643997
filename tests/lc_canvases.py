"""Small canvases for pipeline and denoise tests (imported by name: tests/ is on pytest's pythonpath)."""

import numpy as np
from PIL import Image

from layercraft.canvas import Canvas, Category, Layer, Placement


def blob(size: int, color: tuple[int, int, int], seed: int = 0) -> Image.Image:
    """An opaque disc of `color` with a little texture, transparent outside."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    inside = (yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2 < (size / 2) ** 2
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = np.clip(np.array(color) + rng.integers(-20, 20, (size, size, 3)), 0, 255)
    rgba[..., 3] = inside * 255
    return Image.fromarray(rgba, "RGBA")


def canvas(n: int = 2, side: int = 32, locked: tuple[int, ...] = (), placed: bool = True,
           descriptors: bool = False) -> Canvas:
    cats = [Category.face, Category.upper_garment, Category.lower_garment, Category.bag]
    layers = []
    for i in range(n):
        layers.append(Layer(id=f"l{i}", image=blob(side // 2, (200 - 40 * i, 60 + 40 * i, 90), seed=i),
                            placement=Placement(x=(i * side // 4) % (side // 2), y=(i * 5) % (side // 2)),
                            locked=i in locked, placed=placed, category=cats[i % 4] if not placed else Category.person,
                            descriptor=(f"red shirt {i}" if descriptors else None)))
    return Canvas(width=side, height=side, layers=layers, prompt="two people in a park")
