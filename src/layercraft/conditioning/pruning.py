"""Transparent latent pruning (LayerComposer eq. 2-3) and FLUX-style latent packing.

A layer's alpha (pixels) decides which of its tokens survive on the token grid (h, w) — the
latent grid after packing, i.e. pixels / (VAE factor · patch). Two rules:

- `nearest` (the paper's, default): nearest-neighbour downsample of alpha, keep where > 0.5.
  We sample the pixel nearest each cell centre (torch "nearest-exact"), not the cell's top-left.
- `coverage`: keep a token when the opaque (alpha > 0.5) fraction of its cell is ≥ τ; τ = 0 means
  "any opaque pixel". Nearest sampling drops thin parts (limbs, hair) on coarse grids; this keeps them.

Token order everywhere: segments in the order given, each in row-major order (row, then column).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

Rule = Literal["nearest", "coverage"]


def keep_mask(alpha: torch.Tensor, grid: tuple[int, int], rule: Rule = "nearest", tau: float = 0.0) -> torch.Tensor:
    """alpha (H, W) in [0, 1] → bool (h, w): which tokens of this layer to keep."""
    if alpha.dim() != 2:
        raise ValueError(f"alpha must be (H, W), got shape {tuple(alpha.shape)}")
    a = alpha.float()[None, None]  # (1, 1, H, W)
    if rule == "nearest":
        return (F.interpolate(a, size=grid, mode="nearest-exact")[0, 0] > 0.5)
    if rule == "coverage":
        frac = F.adaptive_avg_pool2d((a > 0.5).float(), grid)[0, 0]  # (h, w) opaque fraction
        return frac > 0 if tau <= 0 else frac >= tau - 1e-6
    raise ValueError(f"unknown pruning rule {rule!r} (use 'nearest' or 'coverage')")


def pack(latent: torch.Tensor, patch: int = 2) -> torch.Tensor:
    """(C, H', W') → (H'/p · W'/p, C·p·p), channel order (C, p, p) exactly as diffusers' Flux packs."""
    c, h, w = latent.shape
    if h % patch or w % patch:
        raise ValueError(f"latent {h}×{w} is not divisible by the patch size {patch}")
    x = latent.view(c, h // patch, patch, w // patch, patch).permute(1, 3, 0, 2, 4)
    return x.reshape((h // patch) * (w // patch), c * patch * patch)


def unpack(tokens: torch.Tensor, grid: tuple[int, int], patch: int = 2) -> torch.Tensor:
    """Inverse of `pack`: (h·w, C·p·p) → (C, h·p, w·p)."""
    h, w = grid
    c = tokens.shape[-1] // (patch * patch)
    x = tokens.view(h, w, c, patch, patch).permute(2, 0, 3, 1, 4)
    return x.reshape(c, h * patch, w * patch)


@dataclass
class Pruned:
    tokens: torch.Tensor  # (M, D) kept tokens, segments concatenated
    coords: torch.Tensor  # (M, 2) long, (row, col) of each token on its segment's grid
    segment: torch.Tensor  # (M,) long, index of the segment each token came from

    def lengths(self, n_segments: int) -> list[int]:
        return torch.bincount(self.segment, minlength=n_segments).tolist()


def prune(tokens: list[torch.Tensor], keeps: list[torch.Tensor]) -> Pruned:
    """Keep `tokens[i]` (h_i·w_i, D) where `keeps[i]` (h_i, w_i) is True; concatenate (eq. 3)."""
    if len(tokens) != len(keeps):
        raise ValueError(f"got {len(tokens)} token grids but {len(keeps)} keep masks")
    out, coords, seg = [], [], []
    for i, (t, k) in enumerate(zip(tokens, keeps, strict=True)):
        if t.shape[0] != k.numel():
            raise ValueError(f"segment {i}: {t.shape[0]} tokens but a {tuple(k.shape)} keep mask")
        flat = k.reshape(-1)
        out.append(t[flat])
        rc = torch.nonzero(k, as_tuple=False)  # (n, 2) row-major, matches flat order
        coords.append(rc)
        seg.append(torch.full((rc.shape[0],), i, dtype=torch.long))
    d = tokens[0].shape[-1] if tokens else 0
    return Pruned(
        tokens=torch.cat(out) if out else torch.zeros(0, d),
        coords=torch.cat(coords) if coords else torch.zeros(0, 2, dtype=torch.long),
        segment=torch.cat(seg) if seg else torch.zeros(0, dtype=torch.long),
    )
