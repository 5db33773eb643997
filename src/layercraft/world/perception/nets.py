"""Small CNN building blocks shared by the perception models (all take images in [0, 1])."""

from __future__ import annotations

import torch
from torch import nn

MEAN, STD = 0.5, 0.25  # input normalisation applied inside every model


def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


class Residual(nn.Module):
    """Two 3×3 convs with an identity shortcut: (B, C, H, W) → (B, C, H, W)."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(True),
            nn.Conv2d(c, c, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


def stage(cin: int, cout: int) -> nn.Sequential:
    """Downsample by 2 then one residual block: (B, cin, H, W) → (B, cout, H/2, W/2)."""
    return nn.Sequential(conv_bn(cin, cout, 2), Residual(cout))


class Backbone(nn.Module):
    """Stem (stride 2) then stride-2 stages; returns every stage's feature map, finest first."""

    def __init__(self, widths: tuple[int, ...] = (24, 48, 96, 192)):
        super().__init__()
        self.stem = conv_bn(3, widths[0], 2)
        self.stages = nn.ModuleList(stage(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem((x - MEAN) / STD)  # (B, w0, H/2, W/2)
        feats = []
        for s in self.stages:
            x = s(x)
            feats.append(x)  # (B, w_i, H/2^(i+1), W/2^(i+1))
        return feats


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
