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

Every example is a pure function of its seed, and only training-split scenes are ever drawn.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from ..canvas import Canvas, Layer
from ..conditioning.schemes import ANYPHOTO, LAYERCOMPOSER, ONE_FOR_ALL
from ..world.export import category_canvas, face_location_canvas, locking_aware_canvas
from ..world.layout import image_spec, scene
from ..world.prompts import canvas_prompt
from ..world.scene import render
from ..world.splits import check_split, scene_range

IMAGES_PER_SCENE = 8
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


def _train_scene(rng: np.random.Generator, n_people: int | None = None):
    lo, hi = scene_range("train")
    sid = int(rng.integers(lo, hi))
    sc = scene(sid, n_people=n_people)
    check_split("train", scenes=[sid], identities=sc.identities)
    return sc


def layercomposer(rng: np.random.Generator, size: int, *, p_lock: float = 0.35, p_background: float = 0.85,
                  p_lock_background: float = 0.85) -> Example:
    sc = _train_scene(rng)
    target = int(rng.integers(IMAGES_PER_SCENE))
    source = int((target + 1 + rng.integers(IMAGES_PER_SCENE - 1)) % IMAGES_PER_SCENE)
    locked = [i for i in range(len(sc.identities)) if rng.random() < p_lock]
    with_bg = rng.random() < p_background
    canvas, tgt = locking_aware_canvas(sc, target, locked, source, width=size, height=size, with_background=with_bg,
                                       lock_background=rng.random() < p_lock_background)
    for layer in canvas.all_layers():
        layer.image = _relight(layer.image, rng)
    canvas.prompt = canvas_prompt(tgt.meta, rng)
    return Example(canvas, tgt.rgb, canvas.prompt, LAYERCOMPOSER.name, tgt.meta, *_boxes(tgt))


def one_for_all(rng: np.random.Generator, size: int, *, p_keep: float = 0.7) -> Example:
    sc = _train_scene(rng, n_people=1)
    target = int(rng.integers(IMAGES_PER_SCENE))
    source = int((target + 1 + rng.integers(IMAGES_PER_SCENE - 1)) % IMAGES_PER_SCENE)
    tgt = render(image_spec(sc, target, size, size))
    refs = category_canvas(render(image_spec(sc, source, size, size)), 0)
    kept = [lay for lay in refs.layers if rng.random() < p_keep] or [refs.layers[int(rng.integers(len(refs.layers)))]]
    for layer in kept:
        layer.image = _relight(layer.image, rng)
    prompt = canvas_prompt(tgt.meta, rng)
    canvas = Canvas(width=size, height=size, layers=kept, prompt=prompt)
    return Example(canvas, tgt.rgb, prompt, ONE_FOR_ALL.name, tgt.meta, *_boxes(tgt))


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
             milestones: tuple[int, ...] = (2000, 4000, 6000), top: float = 0.5) -> Example:
    sc = _train_scene(rng)
    target = int(rng.integers(IMAGES_PER_SCENE))
    tgt = render(image_spec(sc, target, size, size))
    r = replacement_probability(step, milestones, top)
    layers: list[Layer] = []
    for i, ident in enumerate(p["identity"] for p in tgt.meta["people"]):
        if rng.random() < r:  # the same identity from another image of the scene
            other = int((target + 1 + rng.integers(IMAGES_PER_SCENE - 1)) % IMAGES_PER_SCENE)
            ref = render(image_spec(sc, other, size, size))
            j = [p["identity"] for p in ref.meta["people"]].index(ident)
        else:
            ref, j = tgt, i
        try:
            face = face_location_canvas(ref, j, tgt.landmarks[i], size, size).layers[0]
        except (KeyError, ValueError):  # face hidden or too small to crop
            continue
        face = face.model_copy(update={"id": f"p{i}", "image": degrade(face.image, rng)})
        layers.append(face)
    prompt = canvas_prompt(tgt.meta, rng)
    canvas = Canvas(width=size, height=size, layers=layers, prompt=prompt)
    return Example(canvas, tgt.rgb, prompt, ANYPHOTO.name, tgt.meta, *_boxes(tgt))


def text_to_image(rng: np.random.Generator, size: int, *, n_people: int | None = None) -> Example:
    sc = _train_scene(rng, n_people=n_people)
    tgt = render(image_spec(sc, int(rng.integers(IMAGES_PER_SCENE)), size, size))
    prompt = canvas_prompt(tgt.meta, rng)
    canvas = Canvas(width=size, height=size, prompt=prompt)
    return Example(canvas, tgt.rgb, prompt, LAYERCOMPOSER.name, tgt.meta, *_boxes(tgt))


RECIPES: dict[str, Callable[..., Example]] = {LAYERCOMPOSER.name: layercomposer, ONE_FOR_ALL.name: one_for_all,
                                               ANYPHOTO.name: anyphoto, "text_to_image": text_to_image}
