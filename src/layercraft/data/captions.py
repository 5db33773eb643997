"""Captions and per-item descriptors for prepared photos.

- `template_caption`: from what was detected — how many people, where they stand (left / centre /
  right, near / far by face size), the folder's scene words — and nothing invented.
- `ModelCaptioner(folder)`: a local transformers image-to-text model folder (BLIP, GIT,
  VisionEncoderDecoder, …: whatever class its config's `architectures` names), loaded with
  `local_files_only=True` and run greedily; never any network. transformers' BLIP image processor
  wants torchvision for its default backend and falls back to its PIL processor without it, so the
  project's CPU torch (which has no torchvision) runs it.
- `descriptors`: per person, the One-for-All item descriptors (face, upper garment, lower garment)
  from the colour of each region.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..vision.errors import VisionError

_COUNT = {1: "a person", 2: "two people", 3: "three people", 4: "four people", 5: "five people", 6: "six people"}
_COLOURS = {
    "black": (20, 20, 20), "white": (235, 235, 235), "grey": (128, 128, 128), "red": (190, 30, 35),
    "orange": (230, 130, 30), "yellow": (230, 210, 50), "green": (50, 140, 60), "blue": (40, 80, 180),
    "navy": (25, 35, 80), "purple": (120, 50, 140), "pink": (230, 150, 180), "brown": (115, 75, 45),
    "beige": (210, 190, 150),
}
_NAMES = list(_COLOURS)
_RGB = np.array(list(_COLOURS.values()), np.float32)


def colour_name(pixels: np.ndarray) -> str | None:
    """The nearest named colour to the median of `pixels` (K, 3); None for too few pixels."""
    if len(pixels) < 16:
        return None
    med = np.median(pixels.astype(np.float32), axis=0)
    return _NAMES[int(np.argmin(((_RGB - med) ** 2).sum(1)))]


def _position(cx: float, width: int) -> str:
    return "on the left" if cx < width / 3 else ("on the right" if cx > 2 * width / 3 else "in the centre")


def template_caption(width: int, people: list[dict], scene_words: str = "") -> str:
    """`people`: dicts with `face_box` (or None) and `description`, back to front."""
    n = len(people)
    head = f"a photo of {_COUNT.get(n, f'{n} people')}" if n else "a photo"
    if scene_words:
        head += f" {scene_words}"
    placed = sorted((p for p in people if p.get("face_box")), key=lambda p: p["face_box"][0])
    parts = []
    for p in placed:
        x0, _, x1, _ = p["face_box"]
        parts.append(f"{p['description']} {_position((x0 + x1) / 2, width)}" if n > 1 else p["description"])
    if not parts:
        return head + "."
    if n == 1:
        return f"{head}: {parts[0]}."
    return f"{head}. From left to right: " + "; ".join(parts) + "."


def descriptors(rgb: np.ndarray, alpha: np.ndarray, face_box: np.ndarray | None,
                parts: np.ndarray) -> tuple[str, dict]:
    """(description, {face, upper_garment, lower_garment, bag}) for one person; `parts` (4, H, W) bool."""
    upper = colour_name(rgb[parts[1]]) if parts[1].any() else None
    lower = colour_name(rgb[parts[2]]) if parts[2].any() else None
    out = {"face": "the face of the person" if face_box is not None and parts[0].any() else None,
           "upper_garment": f"a {upper} top" if upper else None,
           "lower_garment": f"{lower} trousers or skirt" if lower else None, "bag": None}
    desc = f"a person in a {upper} top" if upper else "a person"
    return desc, out


def region_parts(alpha: np.ndarray, face_box: np.ndarray | None) -> np.ndarray:
    """(4, H, W) bool masks face / upper / lower / bag of a person layer, from its alpha and face box:
    the face box (grown 10 %) inside the person, the torso (face bottom to 2.5 face heights below),
    and what lies below it. No bag masks (none detected)."""
    h, w = alpha.shape
    person = alpha >= 128
    out = np.zeros((4, h, w), bool)
    if face_box is None:
        out[1] = person
        return out
    x0, y0, x1, y1 = (float(v) for v in face_box)
    fh = max(y1 - y0, 1.0)
    gx, gy = (x1 - x0) * 0.1, fh * 0.1
    fy0, fy1 = int(max(0, y0 - gy)), int(min(h, y1 + gy))
    fx0, fx1 = int(max(0, x0 - gx)), int(min(w, x1 + gx))
    out[0, fy0:fy1, fx0:fx1] = person[fy0:fy1, fx0:fx1]
    t0, t1 = int(min(h, y1 + gy)), int(min(h, y1 + 2.5 * fh))
    out[1, t0:t1] = person[t0:t1]
    out[2, t1:] = person[t1:]
    return out


class ModelCaptioner:
    """A local transformers image-to-text model folder, run offline (greedy, `max_new_tokens`)."""

    def __init__(self, folder: str | Path, max_new_tokens: int = 30) -> None:
        import json

        import transformers

        folder = Path(folder)
        cfg = folder / "config.json"
        if not cfg.is_file():
            raise VisionError(f"{folder}: not a transformers model folder (no config.json)")
        archs = json.loads(cfg.read_text()).get("architectures") or []
        cls = next((getattr(transformers, a) for a in archs if hasattr(transformers, a)), None)
        if cls is None:
            raise VisionError(f"{folder}: config.json names no transformers model class ({archs})")
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(folder, local_files_only=True)
            self.model = cls.from_pretrained(folder, local_files_only=True).eval()
        except (OSError, ValueError) as err:
            raise VisionError(f"{folder}: cannot load captioning model ({str(err).splitlines()[0]})") from None
        self.max_new_tokens = max_new_tokens
        self.name = f"{archs[0]}:{folder.name}"

    def to(self, device) -> ModelCaptioner:
        self.model.to(device)
        return self

    def __call__(self, image: Image.Image) -> str:
        import torch

        inputs = self.processor(images=[image.convert("RGB")], return_tensors="pt").to(self.model.device)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        text = self.processor.batch_decode(out, skip_special_tokens=True)[0]
        return " ".join(text.split())
