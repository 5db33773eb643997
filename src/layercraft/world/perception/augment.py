"""Mild batched augmentation of crops: small random shift / scale / rotation and light jitter."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def jitter(x: torch.Tensor, g: torch.Generator, shift: float = 0.06, scale: float = 0.08, degrees: float = 4.0):
    """x (B, 3, H, W) float in [0, 1] → same shape, each item randomly shifted/scaled/rotated and re-lit."""
    b = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, generator=g) * (hi - lo) + lo

    s = u(1 - scale, 1 + scale)
    a = u(-degrees, degrees) * math.pi / 180
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = s * torch.cos(a), -s * torch.sin(a)
    theta[:, 1, 0], theta[:, 1, 1] = s * torch.sin(a), s * torch.cos(a)
    theta[:, :, 2] = torch.stack([u(-shift, shift), u(-shift, shift)], 1) * 2
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    gain = u(0.85, 1.15)[:, None, None, None] * (1 + (torch.rand(b, 3, 1, 1, generator=g) - 0.5) * 0.1)
    return (out * gain).clamp_(0, 1)
