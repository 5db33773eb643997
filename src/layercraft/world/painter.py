"""Supersampled drawing into a colour image and a part-label image at once.

Every primitive is drawn once, into a palette image whose index stands for a (colour, part) pair
(see `Part`); alpha is "index > 0". `finish()` box-filters the (already premultiplied) bands by the
supersampling factor and unpremultiplies in PIL (C code, no Python pixel loops), giving
antialiased RGBA plus a part-label map sampled at each output pixel's centre.
"""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from .palette import RGB
from .patterns import tile

SS = 3  # supersampling factor


class Part(IntEnum):
    """Label values of the part map; 0 is transparent."""

    face = 1  # head skin, ears, eyes, brows, nose, mouth, beard, glasses
    hair = 2
    upper = 3
    lower = 4
    bag = 5
    skin = 6  # neck, arms, hands, legs
    shoes = 7
    hat = 8


class Painter:
    """Draws in body units (x from the centre line, y down, both × `unit` output pixels).

    Primitives go into one palette-index image; each index ("slot") stands for a (colour, part)
    pair, so every primitive is a single C draw call and the part map comes for free.
    """

    def __init__(self, width: int, height: int, unit: float, cx: float, ss: int = SS):
        self.ss = ss
        self.w, self.h = width * ss, height * ss
        self.u = unit * ss  # supersampled pixels per unit
        self.cx = cx * ss
        self.img = Image.new("L", (self.w, self.h), 0)  # slot indices
        self._d = ImageDraw.Draw(self.img)
        self._slots: dict[tuple[RGB, int], int] = {}
        self._palette: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)]
        self._parts: list[int] = [0]

    def slot(self, colour: RGB, part: Part) -> int:
        key = (tuple(int(v) for v in colour), int(part))
        if key not in self._slots:
            if len(self._palette) == 256:
                raise RuntimeError("more than 255 (colour, part) pairs in one sprite")
            self._slots[key] = len(self._palette)
            self._palette.append((*key[0], 255))
            self._parts.append(int(part))
        return self._slots[key]

    # unit → supersampled pixel coordinates
    def p(self, x: float, y: float) -> tuple[float, float]:
        return self.cx + x * self.u, y * self.u

    def box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        a, b = self.p(x0, y0)
        c, d = self.p(x1, y1)
        return min(a, c), min(b, d), max(a, c), max(b, d)

    def px(self, v: float) -> int:
        return max(1, round(v * self.u))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: RGB, part: Part) -> None:
        self._d.ellipse(self.box(cx - rx, cy - ry, cx + rx, cy + ry), fill=self.slot(fill, part))

    def ring(self, cx: float, cy: float, rx: float, ry: float, colour: RGB, width: float, part: Part) -> None:
        b = self.box(cx - rx, cy - ry, cx + rx, cy + ry)
        self._d.ellipse(b, outline=self.slot(colour, part), width=self.px(width))

    def rect(
        self, x0: float, y0: float, x1: float, y1: float, fill: RGB, part: Part, radius: float = 0.0
    ) -> None:
        self._d.rounded_rectangle(
            self.box(x0, y0, x1, y1), round(radius * self.u), fill=self.slot(fill, part)
        )

    def rect_outline(
        self, x0: float, y0: float, x1: float, y1: float, colour: RGB, width: float, part: Part
    ) -> None:
        self._d.rectangle(self.box(x0, y0, x1, y1), outline=self.slot(colour, part), width=self.px(width))

    def polygon(self, pts: list[tuple[float, float]], fill: RGB, part: Part) -> None:
        self._d.polygon([self.p(x, y) for x, y in pts], fill=self.slot(fill, part))

    def line(self, pts: list[tuple[float, float]], colour: RGB, width: float, part: Part) -> None:
        q = [self.p(x, y) for x, y in pts]
        w, s = self.px(width), self.slot(colour, part)
        self._d.line(q, fill=s, width=w, joint="curve")
        if w > 3:  # round caps
            for x, y in (q[0], q[-1]):
                self._d.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=s)

    def arc(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        start: float,
        end: float,
        colour: RGB,
        width: float,
        part: Part,
    ) -> None:
        b = self.box(cx - rx, cy - ry, cx + rx, cy + ry)
        self._d.arc(b, start, end, fill=self.slot(colour, part), width=self.px(width))

    def chord(
        self, cx: float, cy: float, rx: float, ry: float, start: float, end: float, fill: RGB, part: Part
    ) -> None:
        self._d.chord(self.box(cx - rx, cy - ry, cx + rx, cy + ry), start, end, fill=self.slot(fill, part))

    def pattern(self, part: Part, kind: str, colour: RGB, period: int, vertical: bool = False) -> None:
        """Overlay pattern `kind` in `colour` on every pixel currently labelled `part`."""
        lut = [255 if q == int(part) else 0 for q in self._parts] + [0] * (256 - len(self._parts))
        on = ImageChops.multiply(self.img.point(lut), pattern_bits(kind, period, vertical, self.h, self.w))
        self.img.paste(self.slot(colour, part), (0, 0), on)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """(rgba (h, w, 4) uint8 antialiased, labels (h, w) uint8 Part values) at the output scale."""
        pal = np.zeros((256, 4), np.uint8)
        pal[: len(self._palette)] = self._palette
        img = self.img.convert("P")  # same indices, palette attached next
        img.putpalette(pal.tobytes(), rawmode="RGBA")
        # supersampled alpha is 0 or 255 and slot 0 is (0, 0, 0, 0), so the RGBA bands are premultiplied
        # already: box-average each band, reassemble as premultiplied "RGBa" and unpremultiply
        bands = [b.reduce(self.ss) for b in img.convert("RGBA").split()]
        rgba = Image.merge("RGBa", bands).convert("RGBA")
        o = self.ss // 2
        idx = np.asarray(self.img)[o :: self.ss, o :: self.ss]
        labels = np.asarray(self._parts, np.uint8)[idx]
        return np.asarray(rgba), labels


@lru_cache(maxsize=256)
def _bits(kind: str, period: int, vertical: bool, size: int) -> Image.Image:
    t = tile(kind, (0, 0, 0), period, vertical)[..., 3]
    reps = size // t.shape[0] + 1
    return Image.fromarray(np.ascontiguousarray(np.tile(t, (reps, reps))[:size, :size]))


def pattern_bits(kind: str, period: int, vertical: bool, h: int, w: int) -> Image.Image:
    """(w × h) "L" mask, 255 where pattern `kind` of `period` pixels is on, cut from a cached block."""
    size = 256
    while size < max(h, w):
        size *= 2
    return _bits(kind, period, vertical, size).crop((0, 0, w, h))
