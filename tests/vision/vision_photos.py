"""Helpers that build test photos from the real photos shipped in installed packages."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image


def grace_path() -> Path:
    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def lfw_photo(face: np.ndarray, side: int = 100, canvas: int = 200, flip: bool = False) -> Image.Image:
    """One 25×25 LFW face upscaled to `side` px, pasted in the middle of a grey `canvas`² photo."""
    im = Image.fromarray((face * 255).astype(np.uint8)).convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    if flip:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = Image.new("RGB", (canvas, canvas), (128, 128, 128))
    out.paste(im, ((canvas - side) // 2, (canvas - side) // 2))
    return out


def group_photo(astronaut: Image.Image, grace: Image.Image):
    """A 4-person 1200×600 photo: astronaut, grace, a mirrored half-size astronaut, a 0.6× grace.

    Returns the photo and, per person, (source image, scale, flip, offset) so that a landmark p of
    the source lands at offset + scale · (p mirrored if flip)."""
    photo = Image.new("RGB", (1200, 600), (205, 200, 190))
    parts = [(astronaut, 1.0, False, (0, 88)), (grace, 1.0, False, (400, 0)),
             (astronaut, 0.5, True, (900, 344)), (grace, 0.6, False, (930, 0))]
    for src, s, flip, off in parts:
        im = src.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else src
        if s != 1.0:
            im = im.resize((round(src.width * s), round(src.height * s)), Image.Resampling.LANCZOS)
        photo.paste(im, off)
    return photo, parts


def place_landmarks(lms: np.ndarray, width: int, scale: float, flip: bool, off) -> np.ndarray:
    """Where landmarks `lms` of a source `width` px wide land after `group_photo`'s paste (order kept)."""
    p = np.asarray(lms, np.float64).copy()
    if flip:
        p[:, 0] = width - p[:, 0]
        p = p[[1, 0, 2, 4, 3]]  # image-left and image-right swap under a mirror
    return p * scale + np.asarray(off, np.float64)
