"""Contact sheet: per sample a row of image, annotated image (visible masks, boxes, landmarks),
each person's full layer (occluded parts included) and the prompt."""

from __future__ import annotations

import textwrap

import numpy as np
from PIL import Image, ImageDraw

from .sample import Sample

_COLOURS = [
    (230, 60, 60),
    (60, 140, 240),
    (60, 200, 90),
    (240, 190, 40),
    (190, 80, 220),
    (40, 210, 210),
    (250, 130, 40),
    (240, 100, 180),
]


def _checker(w: int, h: int, cell: int = 6) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    v = np.where(((yy // cell) + (xx // cell)) % 2 == 0, 205, 245).astype(np.uint8)
    return np.repeat(v[..., None], 3, axis=2)  # (h, w, 3)


def annotate(sample: Sample) -> Image.Image:
    """Image tinted by each person's visible mask, with person / face boxes and landmarks."""
    rgb = sample.rgb.astype(np.float32)
    for i in range(sample.n):
        m = sample.visible[i]
        rgb[m] = rgb[m] * 0.55 + np.array(_COLOURS[i % 8]) * 0.45
    im = Image.fromarray(rgb.astype(np.uint8))
    d = ImageDraw.Draw(im)
    for i in range(sample.n):
        c = _COLOURS[i % 8]
        x0, y0, x1, y1 = (int(v) for v in sample.person_boxes[i])
        d.rectangle((x0, y0, x1 - 1, y1 - 1), outline=c)
        fx0, fy0, fx1, fy1 = (int(v) for v in sample.face_boxes[i])
        d.rectangle((fx0, fy0, fx1 - 1, fy1 - 1), outline=(255, 255, 255))
        for x, y in sample.landmarks[i]:
            d.point((float(x), float(y)), fill=(255, 255, 0))
        d.text((x0 + 1, y0 + 1), f"p{i}", fill=c)
    return im


def sheet_row(sample: Sample, tile: int = 192, text_width: int = 440) -> Image.Image:
    H, W = sample.rgb.shape[:2]
    small = tile // 2
    cols = 4
    row = Image.new("RGB", (2 * tile + cols * small + text_width, tile), (255, 255, 255))
    row.paste(Image.fromarray(sample.rgb).resize((tile, tile), Image.Resampling.LANCZOS), (0, 0))
    row.paste(annotate(sample).resize((tile, tile), Image.Resampling.NEAREST), (tile, 0))
    for i in range(min(sample.n, 2 * cols)):
        lay = Image.fromarray(sample.layers[i], "RGBA").resize((small, small), Image.Resampling.LANCZOS)
        base = Image.fromarray(_checker(small, small))
        base.paste(lay, (0, 0), lay)
        d = ImageDraw.Draw(base)
        d.text((2, 1), f"p{i}", fill=_COLOURS[i % 8])
        row.paste(base, (2 * tile + (i % cols) * small, (i // cols) * small))
    d = ImageDraw.Draw(row)
    m = sample.meta
    bg, spec = m["background"], m["spec"]
    head = f"{bg['kind']} / {bg['time']}  scene {spec['scene']} image {spec['index']}"
    lines = [head, *textwrap.wrap(m["prompt"], width=text_width // 6 - 2)]
    x = 2 * tile + cols * small + 6
    for k, line in enumerate(lines[: tile // 11]):
        d.text((x, 2 + 11 * k), line, fill=(20, 20, 20) if k else (160, 30, 30))
    return row


def contact_sheet(samples: list[Sample], tile: int = 192) -> Image.Image:
    rows = [sheet_row(s, tile) for s in samples]
    out = Image.new("RGB", (rows[0].width, sum(r.height + 2 for r in rows)), (120, 120, 120))
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height + 2
    return out
