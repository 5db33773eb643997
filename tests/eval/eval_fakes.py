"""Deterministic test backends and a tiny synthetic user suite (coloured cards on grey)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from layercraft.eval.backends import Attributes, Detections

GREY = 128
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 220)}


class BlobDetector:
    """Connected components of non-grey pixels → boxes, score = their fill ratio."""

    name = "blob"

    def detect(self, image: np.ndarray) -> Detections:
        fg = np.abs(image.astype(int) - GREY).sum(-1) > 30
        lab, n = ndimage.label(fg)
        boxes, scores = [], []
        for k, sl in enumerate(ndimage.find_objects(lab), 1):
            ys, xs = sl
            if (ys.stop - ys.start) * (xs.stop - xs.start) < 16:
                continue
            boxes.append([xs.start, ys.start, xs.stop, ys.stop])
            scores.append(float((lab[sl] == k).mean()))
        return Detections(np.array(boxes, float).reshape(-1, 4), scores, np.zeros(len(boxes)))


class MeanColourIdentity:
    """Identity = unit-norm mean colour (minus grey) of the box's central half."""

    name = "mean-colour"

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        out = []
        for x0, y0, x1, y1 in np.asarray(boxes, float).reshape(-1, 4):
            dx, dy = (x1 - x0) / 4, (y1 - y0) / 4
            patch = image[int(y0 + dy): max(int(y0 + dy) + 1, int(y1 - dy)),
                          int(x0 + dx): max(int(x0 + dx) + 1, int(x1 - dx))]
            v = patch.reshape(-1, 3).mean(0) - GREY
            out.append(v / max(np.linalg.norm(v), 1e-9))
        return np.array(out).reshape(-1, 3)


class ColourAttributes:
    """Background kind = 'grey' if the corners are grey; each person's 'pose' = the name of the nearest colour."""

    name = "colour-attrs"

    def predict(self, image: np.ndarray, boxes: np.ndarray) -> Attributes:
        corner = image[0, 0].astype(int)
        bg = "grey" if np.abs(corner - GREY).sum() < 30 else "other"
        people = []
        for x0, y0, x1, y1 in np.asarray(boxes, int).reshape(-1, 4):
            m = image[y0:y1, x0:x1].reshape(-1, 3).mean(0)
            name = min(COLOURS, key=lambda c: np.linalg.norm(m - COLOURS[c]))
            people.append({"pose": name, "expression": "neutral"})
        return Attributes({"kind": bg}, people)


class MeanFeatures:
    name = "mean-rgb"

    def features(self, images):
        return np.stack([np.concatenate([im.reshape(-1, 3).mean(0), im.reshape(-1, 3).std(0)]) for im in images])


def write_cards_suite(root: Path, n_cases: int = 3) -> Path:
    """A JSONL suite: each case places 2-3 solid cards on a grey 96×96 canvas; the target has the same
    cards, darker by 15 % and shifted 2 px (so GT ≠ reference)."""
    root.mkdir(parents=True, exist_ok=True)
    names = list(COLOURS)
    for name, rgb in COLOURS.items():
        Image.new("RGBA", (16, 24), (*rgb, 255)).save(root / f"{name}.png")
    Image.new("RGB", (96, 96), (GREY,) * 3).save(root / "bg.png")
    lines = []
    for k in range(n_cases):
        n = 2 + k % 2
        layers, truth_people = [], []
        tgt = np.full((96, 96, 3), GREY, np.uint8)
        for j in range(n):
            name = names[(j + k) % 3]
            x0, y0 = 6 + 30 * j, 20 + 8 * k
            layers.append({"id": f"p{j}", "image": f"{name}.png", "box": [x0, y0, x0 + 16, y0 + 24],
                           "locked": j == 0 and k == 0})
            tgt[y0 + 2: y0 + 26, x0 + 2: x0 + 18] = (np.array(COLOURS[name]) * 0.85).astype(np.uint8)
            truth_people.append({"pose": name, "expression": "neutral"})
        Image.fromarray(tgt).save(root / f"target{k}.png")
        lines.append({"id": f"c{k}", "width": 96, "height": 96, "prompt": f"{n} cards on grey", "layers": layers,
                      "background": "bg.png", "target": f"target{k}.png", "seed": 100 + k,
                      "truth": {"image": {"kind": "grey"}, "people": truth_people,
                                "reference_people": [None if (j == 0 and k == 0) else p
                                                     for j, p in enumerate(truth_people)]}})
    path = root / "cards.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path
