"""Layout-aware module (LCP eq. 4): g = Concat(MLP(c_s, F(b)), MLP(c_e, F(b))), two grounding tokens per subject."""

from __future__ import annotations

import torch
import torch.nn as nn

from .fourier import fourier_box_embedding, fourier_dim


def _mlp(in_dim: int, out_dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, out_dim))


class LayoutAwareModule(nn.Module):
    def __init__(self, static_dim: int, entity_dim: int, out_dim: int, num_freqs: int = 8, hidden: int = 512):
        super().__init__()
        self.num_freqs = num_freqs
        f = fourier_dim(num_freqs)
        self.static_mlp = _mlp(static_dim + f, out_dim, hidden)
        self.entity_mlp = _mlp(entity_dim + f, out_dim, hidden)

    def forward(self, static: torch.Tensor, entity: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        # static: (B, K, D_s) pooled static features; entity: (B, K, D_e); boxes: (B, K, 4) in [0, 1]
        fb = fourier_box_embedding(boxes, self.num_freqs).to(static.dtype)  # (B, K, 8F)
        gs = self.static_mlp(torch.cat([static, fb], dim=-1))  # (B, K, D_g)
        ge = self.entity_mlp(torch.cat([entity, fb], dim=-1))  # (B, K, D_g)
        return torch.cat([gs, ge], dim=1)  # (B, 2K, D_g): static tokens, then entity tokens
