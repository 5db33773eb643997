"""The bundled example canvases, built in code (`scripts/make_examples.py` writes them to assets/)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .canvas import Canvas, Layer, Placement
from .canvas.builders import background_layer

EXAMPLES = {"four-friends": "four-friends.lcp"}


def example_path(name: str = "four-friends") -> Path:
    if name not in EXAMPLES:
        raise KeyError(f"no bundled example {name!r}; choose from {sorted(EXAMPLES)}")
    return Path(str(resources.files("layercraft") / "assets" / "examples" / EXAMPLES[name]))


def _figure(shirt: tuple[int, int, int], skin: tuple[int, int, int], hair: tuple[int, int, int]) -> Image.Image:
    """A simple standing figure on a transparent 48×96 layer (drawn at 4× and downsampled)."""
    s = 4
    img = Image.new("RGBA", (48 * s, 96 * s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((10 * s, 30 * s, 38 * s, 64 * s), radius=6 * s, fill=(*shirt, 255))
    d.rectangle((14 * s, 62 * s, 22 * s, 94 * s), fill=(40, 40, 70, 255))
    d.rectangle((26 * s, 62 * s, 34 * s, 94 * s), fill=(40, 40, 70, 255))
    d.ellipse((13 * s, 6 * s, 35 * s, 30 * s), fill=(*skin, 255))
    d.chord((12 * s, 3 * s, 36 * s, 24 * s), 180, 360, fill=(*hair, 255))
    for ex in (19, 27):
        d.ellipse(((ex - 1) * s, 16 * s, (ex + 1) * s, 18 * s), fill=(20, 20, 20, 255))
    return img.resize((48, 96), Image.Resampling.LANCZOS)


def _beach(width: int, height: int) -> Image.Image:
    y = np.linspace(0, 1, height)[:, None, None]
    sky = np.array([120, 180, 235]) * (1 - y) + np.array([200, 225, 245]) * y
    arr = np.repeat(sky, width, axis=1)
    arr[int(height * 0.6):] = [225, 205, 150]
    arr[int(height * 0.5):int(height * 0.6)] = [40, 110, 170]
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def four_friends() -> Canvas:
    """128×128: a locked beach background, one locked person, three unlocked ones, two overlapping."""
    people = [  # id, shirt colour name and rgb, skin, hair, x, y, locked
        ("ann", "red", (220, 60, 60), (240, 200, 170), (90, 50, 20), 6, 30, True),
        ("ben", "blue", (60, 140, 220), (190, 140, 100), (20, 20, 20), 34, 26, False),
        ("cleo", "yellow", (250, 200, 40), (150, 100, 70), (200, 120, 40), 62, 32, False),
        ("dev", "green", (70, 170, 90), (230, 180, 150), (60, 60, 60), 84, 28, False),
    ]
    layers = [
        Layer(id=lid, name=lid.title(), image=_figure(shirt, skin, hair), placement=Placement(x=x, y=y),
              locked=locked, descriptor=f"a person in a {colour} shirt")
        for lid, colour, shirt, skin, hair, x, y, locked in people
    ]
    return Canvas(width=128, height=128, layers=layers, background=background_layer(_beach(128, 128), 128, 128),
                  prompt="four friends standing on a sunny beach, smiling")
