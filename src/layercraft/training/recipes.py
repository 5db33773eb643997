"""Data recipes: world scenes → (canvas, target image, prompt) training examples, one per paper.

- `layercomposer`: locking-aware sampling (sec. 3.3) — locked layers are people's visible pixels in
  the target (plus, usually, the locked clean plate), unlocked layers are the same people's full
  layers from another image of the scene; every layer gets a lighting augmentation.
- `one_for_all`: single-subject category pairs — face / upper / lower / bag references of one
  person, taken from another image of the scene, as unplaced category layers.
- `text_to_image`: a world image and its prompt with an empty canvas — the base text-to-image ("vanilla")
  stage; `n_people` restricts it to scenes of that many people (a single-subject base, as the
  personalization papers use).
- `anyphoto`: face location canvases — each face crop placed on the target's landmarks, from the
  target itself or, with the curriculum's replacement probability, from another image of the
  same identity; crops are degraded (blur, noise, JPEG, occlusion, colour, grayscale).

Every recipe reads its scenes through one interface (`training/scenes.py`) with two sources: the
procedural world (`scenes=None`, the default) and a dataset prepared from photos
(`DatasetScenes(folder)`, `layercraft data prepare`), or a weighted mix. Every example is a pure
function of its seed (and the dataset); from the world, only training-split scenes are ever drawn.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from ..canvas import Canvas, Layer
from ..conditioning.schemes import ANYPHOTO, LAYERCOMPOSER, ONE_FOR_ALL
from ..world.export import background_layer, category_canvas, face_location_canvas, locked_layer, moved_layer
from ..world.prompts import canvas_prompt  # noqa: F401  (re-exported: the world's prompt for canvases)
from .scenes import IMAGES_PER_SCENE, WORLD, scene_source  # noqa: F401


@dataclass
class Example:
    canvas: Canvas
    target: np.ndarray  # (H, W, 3) uint8
    prompt: str
    scheme: str
    meta: dict
    person_boxes: np.ndarray  # (N, 4) target person boxes, z-order; layer "p{i}" is person i
    visible: np.ndarray  # (N,) fraction of each target person's layer that is visible


def _boxes(sample) -> tuple[np.ndarray, np.ndarray]:
    full = (sample.layers[..., 3] >= 128).reshape(sample.n, -1).sum(1)
    seen = sample.visible.reshape(sample.n, -1).sum(1)
    return sample.person_boxes.astype(np.float32), seen / np.maximum(full, 1)


def _relight(img: Image.Image, rng: np.random.Generator, strength: float = 0.12) -> Image.Image:
    """Per-layer lighting change (gain per channel); alpha untouched."""
    arr = np.asarray(img).astype(np.float32)
    gain = 1 + rng.uniform(-strength, strength) + rng.uniform(-strength / 3, strength / 3, 3)
    arr[..., :3] = np.clip(arr[..., :3] * gain, 0, 255)
    return Image.fromarray(arr.astype(np.uint8), "RGBA")


def _background(sample, locked: bool) -> Layer:
    """The clean plate (world) or the photo's background remainder, transparent where people were (photos)."""
    layer = background_layer(sample, locked)
    if sample.plate_alpha is None:
        return layer
    rgba = Image.fromarray(np.dstack([sample.plate, sample.plate_alpha]), "RGBA")
    kind, time = sample.meta["background"].get("kind", "photo"), sample.meta["background"].get("time", "")
    return layer.model_copy(update={"image": rgba, "descriptor": f"{kind} at {time}" if time else kind})


def layercomposer(rng: np.random.Generator, size: int, *, p_lock: float = 0.35, p_background: float = 0.85,
                  p_lock_background: float = 0.85, scenes=None) -> Example:
    """Locked people: their visible pixels in the target; the others: their full layer from another image of
    the same identity (the scene's source image, or for photos any other photo of that identity; a person
    with no other photo stays locked)."""
    view = (scenes or WORLD).draw(rng)
    target = int(rng.integers(view.n_images))
    source = view.other_index(target, rng)
    locked = [i for i in range(view.n_people(target)) if rng.random() < p_lock]
    with_bg = rng.random() < p_background
    lock_bg = rng.random() < p_lock_background
    tgt = view.image(target, size)
    src = view.image(source, size) if source != target else None
    src_index = {} if src is None else {p["identity"]: j for j, p in enumerate(src.meta["people"])
                                        if p["identity"] is not None}
    layers, sources = [], {}
    for i, p in enumerate(tgt.meta["people"]):
        lid = f"p{i}"
        lay = locked_layer(tgt, i, lid) if i in locked else None
        if lay is None and p["identity"] in src_index:
            lay, sources[lid] = moved_layer(src, src_index[p["identity"]], tgt.person_boxes[i], lid), view.key_of(src)
        elif lay is None:
            other = view.other(target, p["identity"], rng, size)
            if other is not None:
                lay, sources[lid] = moved_layer(other[0], other[1], tgt.person_boxes[i], lid), view.key_of(other[0])
            else:
                lay = locked_layer(tgt, i, lid)
        if lay is not None:
            sources.setdefault(lid, view.key_of(tgt))
            layers.append(lay)
    canvas = Canvas(width=size, height=size, layers=layers, prompt=tgt.meta["prompt"],
                    background=_background(tgt, lock_bg) if with_bg else None)
    for layer in canvas.all_layers():
        layer.image = _relight(layer.image, rng)
    canvas.prompt = view.prompt(tgt, rng)
    return Example(canvas, tgt.rgb, canvas.prompt, LAYERCOMPOSER.name, view.annotate(tgt.meta, sources),
                   *_boxes(tgt))


def one_for_all(rng: np.random.Generator, size: int, *, p_keep: float = 0.7, scenes=None) -> Example:
    """Single-subject pairs: item references (face, upper, lower, bag) of the one person from another image."""
    view = (scenes or WORLD).draw(rng, n_people=1)
    target = int(rng.integers(view.n_images))
    source = view.other_index(target, rng)
    tgt = view.image(target, size)
    src = view.image(source, size)
    refs = category_canvas(src, 0)
    kept = [lay for lay in refs.layers if rng.random() < p_keep]
    if not kept and refs.layers:
        kept = [refs.layers[int(rng.integers(len(refs.layers)))]]
    for layer in kept:
        layer.image = _relight(layer.image, rng)
    prompt = view.prompt(tgt, rng)
    canvas = Canvas(width=size, height=size, layers=kept, prompt=prompt)
    meta = view.annotate(tgt.meta, {lay.id: view.key_of(src) for lay in kept})
    return Example(canvas, tgt.rgb, prompt, ONE_FOR_ALL.name, meta, *_boxes(tgt))


def replacement_probability(step: int, milestones: tuple[int, ...] = (2000, 4000, 6000), top: float = 0.5) -> float:
    """AnyPhoto's curriculum: 0 before the first milestone, rising in equal steps to `top` at the last;
    no milestones = a fixed probability `top` (the paper's no-curriculum baseline)."""
    if not milestones:
        return top
    reached = sum(step >= m for m in milestones)
    return top * reached / len(milestones)


def degrade(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Random AnyPhoto-style degradations of a face crop; alpha kept."""
    alpha = img.getchannel("A")
    rgb = img.convert("RGB")
    if rng.random() < 0.3:
        rgb = ImageEnhance.Color(rgb).enhance(rng.uniform(0.6, 1.4))
        rgb = ImageEnhance.Brightness(rgb).enhance(rng.uniform(0.75, 1.25))
    if rng.random() < 0.1:
        rgb = ImageOps.grayscale(rgb).convert("RGB")
    if rng.random() < 0.25:
        rgb = rgb.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.2:
        arr = np.asarray(rgb).astype(np.float32) + rng.normal(0, rng.uniform(3, 12), (*rgb.size[::-1], 3))
        rgb = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if rng.random() < 0.2:
        buf = io.BytesIO()
        rgb.save(buf, "JPEG", quality=int(rng.integers(20, 60)))
        rgb = Image.open(buf).convert("RGB")
    if rng.random() < 0.15:  # occlusion: a grey block over part of the face
        arr = np.asarray(rgb).copy()
        h, w = arr.shape[:2]
        bh, bw = max(1, int(h * rng.uniform(0.15, 0.35))), max(1, int(w * rng.uniform(0.15, 0.35)))
        y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        arr[y:y + bh, x:x + bw] = int(rng.integers(60, 200))
        rgb = Image.fromarray(arr)
    out = rgb.convert("RGBA")
    out.putalpha(alpha)
    return out


def anyphoto(rng: np.random.Generator, size: int, *, step: int = 0,
             milestones: tuple[int, ...] = (2000, 4000, 6000), top: float = 0.5, scenes=None) -> Example:
    view = (scenes or WORLD).draw(rng)
    target = int(rng.integers(view.n_images))
    tgt = view.image(target, size)
    r = replacement_probability(step, milestones, top)
    layers: list[Layer] = []
    sources = {}
    for i, ident in enumerate(p["identity"] for p in tgt.meta["people"]):
        other = view.other(target, ident, rng, size) if rng.random() < r else None  # the identity elsewhere
        ref, j = other if other is not None else (tgt, i)
        try:
            face = face_location_canvas(ref, j, tgt.landmarks[i], size, size).layers[0]
        except (KeyError, ValueError):  # face hidden or too small to crop
            continue
        face = face.model_copy(update={"id": f"p{i}", "image": degrade(face.image, rng)})
        layers.append(face)
        sources[f"p{i}"] = view.key_of(ref)
    prompt = view.prompt(tgt, rng)
    canvas = Canvas(width=size, height=size, layers=layers, prompt=prompt)
    return Example(canvas, tgt.rgb, prompt, ANYPHOTO.name, view.annotate(tgt.meta, sources), *_boxes(tgt))


def text_to_image(rng: np.random.Generator, size: int, *, n_people: int | None = None, scenes=None) -> Example:
    view = (scenes or WORLD).draw(rng, n_people=n_people)
    tgt = view.image(int(rng.integers(view.n_images)), size)
    prompt = view.prompt(tgt, rng)
    canvas = Canvas(width=size, height=size, prompt=prompt)
    return Example(canvas, tgt.rgb, prompt, LAYERCOMPOSER.name, tgt.meta, *_boxes(tgt))


RECIPES: dict[str, Callable[..., Example]] = {LAYERCOMPOSER.name: layercomposer, ONE_FOR_ALL.name: one_for_all,
                                               ANYPHOTO.name: anyphoto, "text_to_image": text_to_image}
