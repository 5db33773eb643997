"""World samples → layered canvases (the foundation format), three ways.

- `locking_aware_canvas` (LayerComposer sec. 3.3): locked layers are the subject's *visible* pixels
  of the target image (what a segmentation gives); unlocked layers are the subject's full layer from
  another image of the same scene, scaled and placed onto where it stands in the target.
- `category_canvas` (One-for-All): face / upper / lower / bag crops of one person as unplaced
  category references with descriptors.
- `face_location_canvas` (AnyPhoto): a face crop placed on target landmarks by the canvas builder
  `location_layer` (similarity estimate, binarised alpha), turned to the target's roll.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

from ..canvas import Canvas, Category, Layer, Placement
from ..canvas.builders import location_layer
from .layout import Scene, image_spec
from .sample import CATEGORY_PARTS, Sample
from .scene import _box, render

_CATEGORY = {
    "face": Category.face,
    "upper_garment": Category.upper_garment,
    "lower_garment": Category.lower_garment,
    "bag": Category.bag,
}


def _crop(rgba: np.ndarray, box: tuple[int, int, int, int]) -> Image.Image:
    x0, y0, x1, y1 = box
    return Image.fromarray(np.ascontiguousarray(rgba[y0:y1, x0:x1]), "RGBA")


def locked_layer(sample: Sample, i: int, layer_id: str) -> Layer | None:
    """Person `i` as a segmentation of the target: target RGB inside the visible mask, opaque."""
    vis = sample.visible[i]
    box = _box(vis)
    if box[2] <= box[0]:
        return None
    rgba = np.zeros((*vis.shape, 4), np.uint8)
    rgba[vis, :3] = sample.rgb[vis]
    rgba[vis, 3] = 255
    x0, y0 = box[:2]
    return Layer(
        id=layer_id,
        image=_crop(rgba, box),
        placement=Placement(x=x0, y=y0),
        locked=True,
        category=Category.person,
        descriptor=sample.meta["people"][i]["description"],
        landmarks=(sample.landmarks[i] - (x0, y0)).tolist(),
    )


def moved_layer(source: Sample, j: int, target_box: np.ndarray, layer_id: str) -> Layer:
    """Source person `j`'s full layer, scaled to the height of `target_box` and centred on it."""
    box = tuple(int(v) for v in source.person_boxes[j])
    img = _crop(source.layers[j], box)
    scale = max(1e-3, float(target_box[3] - target_box[1]) / max(1, box[3] - box[1]))
    w = round(img.width * scale)
    cx = (target_box[0] + target_box[2]) / 2
    return Layer(
        id=layer_id,
        image=img,
        placement=Placement(x=round(cx - w / 2), y=int(target_box[1]), scale=scale),
        locked=False,
        category=Category.person,
        descriptor=source.meta["people"][j]["description"],
        landmarks=(source.landmarks[j] - box[:2]).tolist(),
    )


def background_layer(sample: Sample, locked: bool = True) -> Layer:
    return Layer(
        id="bg",
        image=Image.fromarray(sample.plate, "RGB"),
        locked=locked,
        category=Category.background,
        descriptor=f"{sample.meta['background']['kind']} at {sample.meta['background']['time']}",
    )


def locking_aware_canvas(
    sc: Scene,
    target: int,
    locked: Iterable[int],
    source: int,
    *,
    width: int = 256,
    height: int = 256,
    with_background: bool = True,
    lock_background: bool = True,
) -> tuple[Canvas, Sample]:
    """Canvas for training/evaluating image `target` of scene `sc`; returns it and the target sample.

    Person i of the target (z-order index) is locked if i is in `locked`; every other person comes
    from image `source` (≠ target) of the same scene. Layer ids are p0, p1, … in target z-order.
    """
    if source == target:
        raise ValueError("unlocked layers must come from another image of the scene (source == target)")
    tgt = render(image_spec(sc, target, width, height))
    src = render(image_spec(sc, source, width, height))
    locked = set(locked)
    src_index = {p["identity"]: j for j, p in enumerate(src.meta["people"])}
    layers = []
    for i, p in enumerate(tgt.meta["people"]):
        lay = locked_layer(tgt, i, f"p{i}") if i in locked else None
        if lay is None:
            lay = moved_layer(src, src_index[p["identity"]], tgt.person_boxes[i], f"p{i}")
        layers.append(lay)
    canvas = Canvas(
        width=width,
        height=height,
        layers=layers,
        prompt=tgt.meta["prompt"],
        background=background_layer(tgt, lock_background) if with_background else None,
    )
    return canvas, tgt


def category_canvas(sample: Sample, i: int, pad: float = 0.25) -> Canvas:
    """One-for-All single-subject pair input: person `i`'s items as unplaced category references."""
    layers = []
    descs = sample.meta["people"][i]["descriptors"]
    for k, name in enumerate(CATEGORY_PARTS):
        mask = sample.parts[i, k]
        box = _box(mask)
        if box[2] <= box[0] or descs.get(name) is None:
            continue
        rgba = sample.layers[i].copy()
        if name == "face":  # the head: the face box grown by `pad`, every opaque pixel of the layer
            x0, y0, x1, y1 = box
            dx, dy = round((x1 - x0) * pad), round((y1 - y0) * pad)
            H, W = mask.shape
            box = (max(0, x0 - dx), max(0, y0 - dy), min(W, x1 + dx), min(H, y1 + dy))
        else:
            rgba[~mask] = 0
        layer_id = name.split("_")[0]
        lm = (sample.landmarks[i] - box[:2]).tolist() if name == "face" else None
        layers.append(
            Layer(
                id=layer_id,
                image=_crop(rgba, box),
                placed=False,
                category=_CATEGORY[name],
                descriptor=descs[name],
                landmarks=lm,
            )
        )
    return Canvas(
        width=sample.rgb.shape[1],
        height=sample.rgb.shape[0],
        layers=layers,
        prompt=sample.meta["people"][i]["description"],
    )


def face_location_canvas(
    face: Sample,
    i: int,
    target_landmarks: np.ndarray,
    width: int,
    height: int,
    pad: float = 0.25,
    prompt: str = "",
) -> Canvas:
    """AnyPhoto input: person `i`'s face crop from `face`, placed so its landmarks hit `target_landmarks`."""
    ref = category_canvas(face, i, pad).layer("face")
    layer = location_layer("p0", ref.image, np.asarray(ref.landmarks, np.float64),
                           np.asarray(target_landmarks, np.float64), rotate=True)
    layer = layer.model_copy(update={"descriptor": ref.descriptor})
    return Canvas(width=width, height=height, layers=[layer], prompt=prompt)
