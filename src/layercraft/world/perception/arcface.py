"""Additive angular margin (ArcFace) classification head used to train the identity encoder."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ArcMarginHead(nn.Module):
    """Logits s·cos(θ_y + m) for the true class and s·cos(θ_j) for the others (Deng et al., 2019)."""

    def __init__(self, dim: int, classes: int, s: float = 30.0, m: float = 0.3):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.01)  # (C, D) class centres
        self.s, self.m = s, m

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """emb (B, D) unit-norm, labels (B,) in [0, C) → cross-entropy loss (scalar)."""
        cos = emb @ F.normalize(self.weight, dim=1).T  # (B, C)
        cos_y = cos.gather(1, labels[:, None]).clamp(-1 + 1e-6, 1 - 1e-6)  # (B, 1)
        # cos(θ + m), except past θ = π − m where it stops decreasing: there use cos θ − m·sin m (insightface)
        arc = cos_y * math.cos(self.m) - torch.sqrt(1 - cos_y**2) * math.sin(self.m)
        target = torch.where(cos_y > math.cos(math.pi - self.m), arc, cos_y - self.m * math.sin(self.m))
        logits = cos.scatter(1, labels[:, None], target) * self.s
        return F.cross_entropy(logits, labels)
