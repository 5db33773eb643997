"""Fourier encoding of boxes, F_enc(b) in LCP eq. 4 (the GLIGEN positional representation)."""

from __future__ import annotations

import torch


def fourier_box_embedding(boxes: torch.Tensor, num_freqs: int = 8, base: float = 100.0) -> torch.Tensor:
    """boxes (..., 4) as (x0, y0, x1, y1) in [0, 1] → (..., 4 · 2 · num_freqs).

    Frequencies are base^(k / num_freqs), k = 0..F-1; each coordinate gives sin and cos per frequency.
    """
    k = torch.arange(num_freqs, device=boxes.device, dtype=torch.float32)
    freqs = base ** (k / num_freqs)  # (F,)
    angles = boxes.float()[..., None] * freqs  # (..., 4, F)
    emb = torch.stack([angles.sin(), angles.cos()], dim=-1)  # (..., 4, F, 2)
    return emb.flatten(-3).to(boxes.dtype if boxes.is_floating_point() else torch.float32)


def fourier_dim(num_freqs: int) -> int:
    return 4 * 2 * num_freqs
