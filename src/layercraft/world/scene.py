"""render(spec) → Sample: background plate, lit person sprites in z-order, and all ground truth."""

from __future__ import annotations

import numpy as np

from .backgrounds import background
from .composite import alpha_over, visible_masks
from .descriptors import descriptors, person_phrase
from .identity import character
from .light import light_plate, light_sprite, person_gain, plate_gain
from .painter import Part
from .person import sprite
from .prompts import prompt
from .sample import Sample
from .spec import ImageSpec

_PART_OF_CATEGORY = (Part.face, Part.upper, Part.lower, Part.bag)


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if len(rows) == 0:
        return (0, 0, 0, 0)
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def render(spec: ImageSpec) -> Sample:
    W, H = spec.width, spec.height
    bg = spec.background
    plate = light_plate(background(bg.kind, bg.time, bg.seed, W, H), plate_gain(spec.light))  # (H, W, 3)
    gain = person_gain(spec.light, bg.time)
    n = len(spec.people)
    rgb = plate.copy()
    layers = np.zeros((n, H, W, 4), np.uint8)
    parts = np.zeros((n, 4, H, W), bool)
    landmarks = np.zeros((n, 5, 2), np.float32)
    people_meta = []
    for i, p in enumerate(spec.people):
        c = character(p.identity)
        pose = p.pose if (p.pose != "holding bag" or c.has_bag) else "arms down"
        px_height = max(8, round(p.height * H * c.height))
        s = sprite(p.identity, p.facing, p.expression, pose, px_height, p.rotation)
        lit = light_sprite(s.rgba, gain, spec.light)  # (h, w, 4)
        x0, y0 = round(p.x * W - s.anchor[0]), round(p.y * H - s.anchor[1])
        h, w = s.labels.shape
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
        if cx1 > cx0 and cy1 > cy0:
            src = lit[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
            lab = s.labels[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
            layers[i, cy0:cy1, cx0:cx1] = src
            for k, part in enumerate(_PART_OF_CATEGORY):
                parts[i, k, cy0:cy1, cx0:cx1] = lab == part
            rgb[cy0:cy1, cx0:cx1] = alpha_over(rgb[cy0:cy1, cx0:cx1], src)
        landmarks[i] = s.landmarks + (x0, y0)
        people_meta.append(
            {
                "identity": p.identity,
                "expression": p.expression,
                "pose": pose,
                "facing": p.facing,
                "description": person_phrase(c),
                "descriptors": descriptors(c),
            }
        )
    alphas = layers[..., 3]
    visible = visible_masks(alphas) if n else np.zeros((0, H, W), bool)
    person_boxes = np.array([_box(a > 0) for a in alphas], np.int32).reshape(n, 4)
    face_boxes = np.array([_box(m[0]) for m in parts], np.int32).reshape(n, 4)
    meta = {
        "spec": spec.model_dump(mode="json"),
        "people": people_meta,
        "background": {"kind": bg.kind, "time": bg.time},
        "prompt": prompt(spec),
    }
    return Sample(rgb, plate, layers, visible, parts, person_boxes, face_boxes, landmarks, meta)
