"""Attribute classifier: background kind and time of day from the whole image; arm pose and facing
from a person crop (cut by `crops.crop`, as for the identity encoder); expression from a face crop
(a face at 128×128 is 6–20 px wide, too small to read inside a whole-person crop).

`classify_images(images)` → {"kind": (B, 8), "time": (B, 3)} logits; `classify_crops(crops, faces)`
→ {"expression": (N, 5), "pose": (N, 4), "facing": (N, 3)} logits; `predict_*` return names.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..backgrounds import KINDS, TIMES
from ..person import EXPRESSIONS, FACINGS, POSES
from . import weights
from .crops import FACE_CROP, FACE_MARGIN, PERSON_CROP, crops, to_float_image
from .nets import Backbone

NAME = "attributes"
SCENE_HEADS = {"kind": KINDS, "time": TIMES}
PERSON_HEADS = {"pose": POSES, "facing": FACINGS}
FACE_HEADS = {"expression": EXPRESSIONS}
CROP_HEADS = {**FACE_HEADS, **PERSON_HEADS}


class AttributeClassifier(nn.Module):
    def __init__(
        self,
        scene_widths: tuple[int, ...] = (16, 32, 64, 96),
        person_widths: tuple[int, ...] = (24, 48, 96, 192),
        face_widths: tuple[int, ...] = (24, 48, 96),
        scene_size: int = 64,
        crop_hw=PERSON_CROP,
        face_hw=FACE_CROP,
    ):
        super().__init__()
        self.config = {
            "scene_widths": list(scene_widths),
            "person_widths": list(person_widths),
            "face_widths": list(face_widths),
            "scene_size": scene_size,
            "crop_hw": list(crop_hw),
            "face_hw": list(face_hw),
            "heads": {k: list(v) for k, v in {**SCENE_HEADS, **PERSON_HEADS}.items()},
        }
        self.scene_size, self.crop_hw, self.face_hw = scene_size, tuple(crop_hw), tuple(face_hw)
        self.scene = Backbone(tuple(scene_widths))
        self.person = Backbone(tuple(person_widths))
        fh, fw = crop_hw[0] // 2 ** len(person_widths), crop_hw[1] // 2 ** len(person_widths)
        self.scene_heads = nn.ModuleDict({k: nn.Linear(scene_widths[-1], len(v)) for k, v in SCENE_HEADS.items()})
        self.person_flat = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.2), nn.Linear(person_widths[-1] * fh * fw, 128), nn.ReLU(True)
        )
        self.person_heads = nn.ModuleDict({k: nn.Linear(128, len(v)) for k, v in PERSON_HEADS.items()})
        self.face = Backbone(tuple(face_widths))
        gh, gw = face_hw[0] // 2 ** len(face_widths), face_hw[1] // 2 ** len(face_widths)
        self.face_flat = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.2), nn.Linear(face_widths[-1] * gh * gw, 128), nn.ReLU(True)
        )
        self.face_heads = nn.ModuleDict({k: nn.Linear(128, len(v)) for k, v in FACE_HEADS.items()})

    def scene_logits(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, 3, 64, 64) in [0, 1] → {head: (B, classes)}."""
        f = self.scene(x)[-1].mean((2, 3))  # (B, C) global average
        return {k: h(f) for k, h in self.scene_heads.items()}

    def person_logits(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (N, 3, 64, 48) in [0, 1] → {head: (N, classes)}."""
        f = self.person_flat(self.person(x)[-1])  # (N, 128)
        return {k: h(f) for k, h in self.person_heads.items()}

    def face_logits(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (N, 3, 32, 32) in [0, 1] → {"expression": (N, 5)}."""
        f = self.face_flat(self.face(x)[-1])  # (N, 128)
        return {k: h(f) for k, h in self.face_heads.items()}

    def scene_input(self, images) -> torch.Tensor:
        """Images (B, 3, H, W) uint8/float or a list of (H, W, 3) arrays → (B, 3, 64, 64) float."""
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        x = torch.stack([to_float_image(im) for im in images])
        s = self.scene_size
        return F.interpolate(x, size=(s, s), mode="bilinear", antialias=True) if x.shape[-2:] != (s, s) else x

    @torch.no_grad()
    def classify_images(self, images, batch: int = 256) -> dict[str, torch.Tensor]:
        self.eval()
        x = self.scene_input(images)
        parts = [self.scene_logits(x[i : i + batch]) for i in range(0, len(x), batch)]
        return {k: torch.cat([p[k] for p in parts]) for k in SCENE_HEADS}

    @torch.no_grad()
    def classify_crops(self, x: torch.Tensor, faces: torch.Tensor, batch: int = 256) -> dict[str, torch.Tensor]:
        """Person crops (N, 3, 64, 48) and face crops (N, 3, 32, 32), uint8 or float → {head: (N, classes)}."""
        self.eval()
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        faces = faces.float() / 255 if faces.dtype == torch.uint8 else faces
        if len(x) == 0:
            return {k: torch.zeros(0, len(v)) for k, v in CROP_HEADS.items()}
        parts = [
            {**self.face_logits(faces[i : i + batch]), **self.person_logits(x[i : i + batch])}
            for i in range(0, len(x), batch)
        ]
        return {k: torch.cat([p[k] for p in parts]) for k in CROP_HEADS}

    def predict_image(self, image) -> dict[str, str]:
        """One image (H, W, 3) uint8 → {"kind": name, "time": name}."""
        logits = self.classify_images([image])
        return {k: SCENE_HEADS[k][int(v[0].argmax())] for k, v in logits.items()}

    def predict_people(self, image, person_boxes, face_boxes) -> list[dict[str, str]]:
        """People at `person_boxes` (N, 4) with faces at `face_boxes` (N, 4) in `image` (H, W, 3) →
        [{"expression", "pose", "facing"}] names."""
        x = crops(image, person_boxes, self.crop_hw)
        faces = crops(image, face_boxes, self.face_hw, FACE_MARGIN)
        logits = self.classify_crops(x, faces)
        return [{k: CROP_HEADS[k][int(v[i].argmax())] for k, v in logits.items()} for i in range(len(person_boxes))]

    @classmethod
    def from_pretrained(cls, directory=weights.ASSETS) -> AttributeClassifier:
        c = weights.load_config(NAME, directory)
        model = cls(
            tuple(c["scene_widths"]),
            tuple(c["person_widths"]),
            tuple(c["face_widths"]),
            c["scene_size"],
            tuple(c["crop_hw"]),
            tuple(c["face_hw"]),
        )
        return weights.load_into(model, NAME, directory)
