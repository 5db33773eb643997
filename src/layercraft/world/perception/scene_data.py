"""Whole-image renders of ordinary world scenes with detection and attribute ground truth.

Image i is image (i mod 4) of the i-th scene of `split` counted from `first` (a pure function of
the arguments), at the generator's 128×128 by default; a fraction of scenes use heavy occlusion.
"""

from __future__ import annotations

import numpy as np
import torch

from ..backgrounds import KINDS, TIMES
from ..layout import image_spec, scene
from ..person import EXPRESSIONS, FACINGS, POSES
from ..scene import render
from ..splits import check_split, scene_range
from .crops import FACE_CROP, FACE_MARGIN, PERSON_CROP, crops

DATA_VERSION = 3  # bump when the records change (keys the on-disk render cache)
PERSON_MIN_VISIBLE = 0.25  # a person counts (detection GT) when ≥ this fraction of it is visible
FACE_MIN_VISIBLE = 0.5  # a face counts when ≥ this fraction of its full mask is visible
CLEAR_PERSON = 0.7  # person attributes are labelled/evaluated when ≥ 70 % of the person …
CLEAR_FACE = 0.9  # … and ≥ 90 % of the face are visible


def visibility(sample) -> tuple[np.ndarray, np.ndarray]:
    """(N,) visible fraction of each person's opaque pixels, (N,) visible fraction of each face mask."""
    opaque = sample.layers[..., 3] >= 128  # (N, H, W)
    person = sample.visible.sum((1, 2)) / np.maximum(opaque.sum((1, 2)), 1)
    face = sample.parts[:, 0]  # (N, H, W)
    face_vis = (face & sample.visible).sum((1, 2)) / np.maximum(face.sum((1, 2)), 1)
    return person, face_vis


def scene_specs(split: str, count: int, first: int = 0, heavy_every: int = 8, size: int = 128, per_scene: int = 1):
    """`count` image specs: with per_scene 1, image i is image (i mod 4) of scene first + i; with
    per_scene k > 1, images 0..k-1 of each scene (the same cast, rearranged and re-posed)."""
    lo, _ = scene_range(split)
    ids = [lo + first + i // per_scene for i in range(count)]
    check_split(split, scenes=[ids[0], ids[-1]])
    specs = []
    for i, s in enumerate(ids):
        heavy = (i // per_scene) % heavy_every == heavy_every - 1
        index = i % 4 if per_scene == 1 else i % per_scene
        specs.append(image_spec(scene(s, occlusion="heavy" if heavy else "normal"), index, size, size))
    return specs


def scene_records(
    split: str, count: int, first: int = 0, size: int = 128, crop_people: bool = True, per_scene: int = 1
) -> dict:
    """Render `count` images → dict of tensors:

    rgb (B, 3, S, S) uint8; boxes (M, 4) float32 [person boxes then face boxes per image, x0 y0 x1 y1];
    box_image (M,) int64; box_label (M,) int64 (0 person, 1 face); box_counts (M,) bool (visible enough);
    kind (B,), time (B,) int64; for the clearly visible people: person crops (P, 3, 64, 48) and face
    crops faces (P, 3, 32, 32) uint8, expression / pose / facing / identity (P,) int64 labels and
    crop_image (P,) int64, the image each came from.
    """
    out = {k: [] for k in ("rgb", "boxes", "box_image", "box_label", "box_counts", "kind", "time")}
    people = {k: [] for k in ("crops", "faces", "expression", "pose", "facing", "identity", "crop_image")}
    for b, spec in enumerate(scene_specs(split, count, first, size=size, per_scene=per_scene)):
        s = render(spec)
        pv, fv = visibility(s)
        out["rgb"].append(torch.from_numpy(s.rgb).permute(2, 0, 1))
        out["kind"].append(KINDS.index(s.meta["background"]["kind"]))
        out["time"].append(TIMES.index(s.meta["background"]["time"]))
        n = s.n
        out["boxes"].append(torch.from_numpy(np.concatenate([s.person_boxes, s.face_boxes]).astype(np.float32)))
        out["box_image"].append(torch.full((2 * n,), b))
        out["box_label"].append(torch.cat([torch.zeros(n), torch.ones(n)]).long())
        out["box_counts"].append(torch.from_numpy(np.concatenate([pv >= PERSON_MIN_VISIBLE, fv >= FACE_MIN_VISIBLE])))
        clear = (pv >= CLEAR_PERSON) & (fv >= CLEAR_FACE)
        if crop_people and clear.any():
            people["crops"].append((crops(s.rgb, s.person_boxes[clear], PERSON_CROP) * 255).round().to(torch.uint8))
            faces = crops(s.rgb, s.face_boxes[clear], FACE_CROP, FACE_MARGIN)
            people["faces"].append((faces * 255).round().to(torch.uint8))
            for i in np.flatnonzero(clear):
                p = s.meta["people"][i]
                people["expression"].append(EXPRESSIONS.index(p["expression"]))
                people["pose"].append(POSES.index(p["pose"]))
                people["facing"].append(FACINGS.index(p["facing"]))
                people["identity"].append(p["identity"])
                people["crop_image"].append(b)
    rec = {
        "rgb": torch.stack(out["rgb"]),
        "boxes": torch.cat(out["boxes"]),
        "box_image": torch.cat(out["box_image"]).long(),
        "box_label": torch.cat(out["box_label"]),
        "box_counts": torch.cat(out["box_counts"]),
        "kind": torch.tensor(out["kind"]),
        "time": torch.tensor(out["time"]),
    }
    if crop_people:
        for k, hw in (("crops", PERSON_CROP), ("faces", FACE_CROP)):
            rec[k] = torch.cat(people[k]) if people[k] else torch.zeros(0, 3, *hw, dtype=torch.uint8)
        for k in ("expression", "pose", "facing", "identity", "crop_image"):
            rec[k] = torch.tensor(people[k], dtype=torch.int64)
    return rec


def cached_scenes(split: str, count: int, first: int = 0, size: int = 128, per_scene: int = 1) -> dict:
    """`scene_records` memoised on disk (see training.cached)."""
    from .training import cached

    params = {"split": split, "count": count, "first": first, "version": DATA_VERSION}
    if size != 128:
        params["size"] = size
    if per_scene != 1:
        params["per_scene"] = per_scene
    return cached("scenes", params, lambda: scene_records(split, count, first, size, per_scene=per_scene))
