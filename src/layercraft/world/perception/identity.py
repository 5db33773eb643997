"""The world's ArcFace: a small CNN mapping a person crop to a unit-norm identity embedding.

Input: person crops (B, 3, 64, 48) float in [0, 1] cut by `crops.crop` (box-centred, margin 1.1).
Output: (B, 128) unit-norm embeddings; cosine similarity compares identities.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import weights
from .crops import PERSON_CROP, crops
from .nets import Backbone

NAME = "identity_encoder"


class IdentityEncoder(nn.Module):
    def __init__(self, dim: int = 128, widths: tuple[int, ...] = (24, 48, 96, 192), crop_hw=PERSON_CROP):
        super().__init__()
        self.config = {"dim": dim, "widths": list(widths), "crop_hw": list(crop_hw)}
        self.crop_hw = tuple(crop_hw)
        self.backbone = Backbone(tuple(widths))
        fh, fw = crop_hw[0] // 2 ** len(widths), crop_hw[1] // 2 ** len(widths)
        self.head = nn.Sequential(
            nn.BatchNorm2d(widths[-1]),
            nn.Dropout(0.2),
            nn.Flatten(),
            nn.Linear(widths[-1] * fh * fw, dim),
            nn.BatchNorm1d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3, 64, 48) in [0, 1] → (B, D) unit-norm."""
        return F.normalize(self.head(self.backbone(x)[-1]), dim=1)

    @torch.no_grad()
    def embed(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """Crops (N, 3, 64, 48) float [0, 1] or uint8 → (N, D) unit-norm float32, in eval mode."""
        self.eval()
        if x.dtype == torch.uint8:
            x = x.float() / 255
        if len(x) == 0:
            return torch.zeros(0, self.config["dim"])
        return torch.cat([self(x[i : i + batch].float()) for i in range(0, len(x), batch)])

    def embed_boxes(self, image: np.ndarray | torch.Tensor, boxes) -> torch.Tensor:
        """Embed the people at `boxes` (N, 4) x0, y0, x1, y1 in `image` (H, W, 3) uint8 → (N, D)."""
        return self.embed(crops(image, boxes, self.crop_hw))

    @classmethod
    def from_pretrained(cls, directory=weights.ASSETS) -> IdentityEncoder:
        cfg = weights.load_config(NAME, directory)
        model = cls(cfg["dim"], tuple(cfg["widths"]), tuple(cfg["crop_hw"]))
        return weights.load_into(model, NAME, directory)
