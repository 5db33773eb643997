"""Person and face detector: a tiny CenterNet on 128×128 images (any image is resized to that).

`Detector.detect(images)` → per image dict(boxes (K, 4) float x0 y0 x1 y1 in the image's pixels,
scores (K,), labels (K,) with 0 = person, 1 = face).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import weights
from .centernet import decode
from .crops import to_float_image
from .nets import Backbone, conv_bn

NAME = "detector"
LABELS = ("person", "face")


class Detector(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (16, 24, 48, 96), neck: int = 32, size: int = 128):
        super().__init__()
        self.config = {"widths": list(widths), "neck": neck, "size": size, "labels": list(LABELS)}
        self.size = size
        self.backbone = Backbone(tuple(widths))  # strides 4, 8, 16 for widths[1:]
        self.lateral = nn.ModuleList(nn.Conv2d(c, neck, 1) for c in widths[1:])
        self.smooth = nn.ModuleList(conv_bn(neck, neck) for _ in widths[1:-1])
        self.shared = conv_bn(neck, 2 * neck)
        self.heat = nn.Conv2d(neck, len(LABELS), 1)
        self.box = nn.Conv2d(neck, 4, 1)  # log w, log h, dx, dy (in output cells)
        nn.init.constant_(self.heat.bias, -2.19)  # prior 0.1

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, 3, S, S) in [0, 1] → heat logits (B, 2, S/4, S/4), size (B, 2, ·), offset (B, 2, ·)."""
        feats = self.backbone(x)  # [(B, w1, S/4), (B, w2, S/8), (B, w3, S/16)]
        y = self.lateral[-1](feats[-1])
        for i in range(len(feats) - 2, -1, -1):  # top-down: upsample, add lateral, smooth
            y = F.interpolate(y, size=feats[i].shape[-2:], mode="nearest") + self.lateral[i](feats[i])
            y = self.smooth[i](y)
        h, b = self.shared(y).chunk(2, dim=1)  # (B, neck, S/4, S/4) each
        box = self.box(b)
        return self.heat(h), box[:, :2], box[:, 2:]

    @torch.no_grad()
    def detect(self, images, threshold: float = 0.3, k: int = 40) -> list[dict]:
        """images: a list of (H, W, 3) uint8 arrays / (3, H, W) tensors, or a (B, 3, H, W) tensor."""
        self.eval()
        if isinstance(images, torch.Tensor) and images.dim() == 4:
            images = list(images)
        elif isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        batch, scales = [], []
        for im in images:
            t = to_float_image(im)  # (3, H, W)
            scales.append((t.shape[2] / self.size, t.shape[1] / self.size))
            if t.shape[1:] != (self.size, self.size):
                t = F.interpolate(t[None], size=(self.size, self.size), mode="bilinear", antialias=True)[0]
            batch.append(t)
        out = decode(*self(torch.stack(batch)), k=k, threshold=threshold)
        for o, (sx, sy) in zip(out, scales, strict=True):
            o["boxes"] = o["boxes"] * torch.tensor([sx, sy, sx, sy])
        return out

    @classmethod
    def from_pretrained(cls, directory=weights.ASSETS) -> Detector:
        cfg = weights.load_config(NAME, directory)
        model = cls(tuple(cfg["widths"]), cfg["neck"], cfg["size"])
        return weights.load_into(model, NAME, directory)
