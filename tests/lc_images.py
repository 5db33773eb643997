"""Small image makers shared by the canvas and conditioning tests."""

import numpy as np
from PIL import Image


def solid(w: int, h: int, rgb=(200, 30, 30), alpha: int = 255) -> Image.Image:
    return Image.new("RGBA", (w, h), (*rgb, alpha))


def noise_image(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    arr[..., 3] = 255
    return Image.fromarray(arr, "RGBA")
