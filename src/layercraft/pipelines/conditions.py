"""Canvas → condition tokens for the pipeline, through `layercraft.conditioning` (as training does).

`encode_conditions` plans segments, encodes each segment's pixels with the autoencoder, packs them
2×2 like Flux and assembles the ConditionBatch; `text_padding_mask` masks padded text keys when
samples carry different numbers of CCPA descriptor tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from diffusers.models.modeling_utils import ModelMixin

from ..canvas.types import Canvas
from ..conditioning import ConditionBatch, SegmentPlan, assemble, pack, plan_segments
from ..models.autoencoder import to_latents


@dataclass
class CanvasConditions:
    batch: ConditionBatch  # tokens (B, M, C·4), ids (B, M, 3), segment (B, M), valid (B, M)
    plans: list[list[SegmentPlan]]  # per canvas, the segments in token order


def rgba_to_tensor(rgba: np.ndarray) -> torch.Tensor:
    """(H, W, 4) uint8 → (3, H, W) in [-1, 1], transparent pixels over white (AnyPhoto's blank canvas)."""
    x = torch.from_numpy(rgba.astype(np.float32) / 255.0)
    rgb, a = x[..., :3], x[..., 3:]
    return (rgb * a + (1.0 - a)).permute(2, 0, 1) * 2.0 - 1.0


def encode_segments(vae: ModelMixin, plans: list[SegmentPlan]) -> list[torch.Tensor]:
    """Each plan's pixels → packed latent tokens (h·w, C·4), row-major; same-size plans share a batch."""
    out: list[torch.Tensor | None] = [None] * len(plans)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for i, p in enumerate(plans):
        by_size.setdefault(p.rgba.shape, []).append(i)
    for idx in by_size.values():
        images = torch.stack([rgba_to_tensor(plans[i].rgba) for i in idx]).to(vae.device)  # (n, 3, H, W)
        latents = to_latents(vae, images)  # (n, C, H/f, W/f)
        for j, i in enumerate(idx):
            out[i] = pack(latents[j].float())
    return out


def encode_conditions(vae: ModelMixin, canvases: list[Canvas], scheme: str, grid: tuple[int, int], *,
                      prune: bool = True, lock_ids: bool = True, rule: str = "nearest", tau: float = 0.0,
                      plans: list[list[SegmentPlan]] | None = None) -> CanvasConditions:
    plans = plans or [plan_canvas(c, scheme, grid, prune=prune, lock_ids=lock_ids, rule=rule, tau=tau)
                      for c in canvases]
    samples = [assemble(p, encode_segments(vae, p), scheme, grid) for p in plans]
    return CanvasConditions(ConditionBatch.collate(samples), plans)


def plan_canvas(canvas: Canvas, scheme: str, grid: tuple[int, int], *, prune: bool = True, lock_ids: bool = True,
                rule: str = "nearest", tau: float = 0.0) -> list[SegmentPlan]:
    """Segment plans for one canvas; `lock_ids=False` gives every layer its own index (no locking)."""
    plans = plan_segments(canvas, scheme, grid, prune=prune, rule=rule, tau=tau)
    if not lock_ids:
        plans = [dataclasses.replace(p, spec=dataclasses.replace(p.spec, locked=False)) for p in plans]
    return plans


def text_padding_mask(mask: torch.Tensor, text_lengths: list[int]) -> torch.Tensor:
    """mask (B, 1, S, S) over [text padded to T; ...] → padded text keys masked for every query;
    a padded text query sees only itself."""
    mask = mask.clone()
    t = max(text_lengths)
    for b, n in enumerate(text_lengths):
        if n < t:
            mask[b, :, :, n:t] = False
            mask[b, :, n:t, :] = False
            idx = torch.arange(n, t)
            mask[b, :, idx, idx] = True
    return mask
