"""Locked-layer anchoring at inference: the latents under locked pixels are pulled back to the canvas.

LayerComposer keeps locked layers through training alone (lock ids + locking-aware data), so how
exactly they survive depends on the model. `lock_blend = f` adds a guarantee on top, as blended /
inpainting diffusion does: for the first f of the steps, after each solver step, tokens covered by a
locked layer are replaced by that layer's content noised to the current σ along the same path,

    x ← m · ((1 − σ) · x_lock + σ · ε) + (1 − m) · x,

with m = 1 on latent pixels (each `factor`² image pixels, any autoencoder) wholly covered by visible
locked pixels, 0 elsewhere, and ε the run's initial noise. A partly covered latent pixel is left to the
model: anchoring it would also pull its uncovered part towards the canvas's blank, a visible halo. The
last 1 − f of the steps run free, so the model can harmonise light and edges (f = 1 copies the layer's
interior; f = 0 is the paper's behaviour).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers.models.modeling_utils import ModelMixin

from ..canvas.raster import composite, rasterize, visible_masks
from ..canvas.types import Canvas
from ..conditioning import pack
from ..denoise.loop import Hook
from ..models.autoencoder import to_latents


@dataclass
class LockAnchor:
    latents: torch.Tensor  # (B, L, C·4) clean packed latents of the visible canvas
    weight: torch.Tensor  # (B, L, C·4) 1 on latent elements wholly under visible locked pixels, else 0
    noise: torch.Tensor  # (B, L, C·4) the run's initial noise

    def apply(self, latents: torch.Tensor, sigma: float) -> torch.Tensor:
        """latents (B, L, C·4) at noise level σ → the same with locked tokens re-anchored."""
        target = (1.0 - sigma) * self.latents + sigma * self.noise
        return (self.weight * target + (1.0 - self.weight) * latents.float()).to(latents.dtype)


class LockAnchorHook(Hook):
    """The anchor applied after each of the first `steps` solver steps, at the σ the step landed on."""

    def __init__(self, anchor: LockAnchor, steps: int):
        self.anchor, self.steps = anchor, steps

    def after_step(self, i: int, sigma_next: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.anchor.apply(x, float(sigma_next)) if i < self.steps else x


def locked_coverage(canvas: Canvas) -> np.ndarray:
    """(H, W) float: 1 where the front-most visible placed layer is locked, else 0."""
    layers = [r for r in rasterize(canvas) if r.placed]
    cover = np.zeros((canvas.height, canvas.width), np.float32)
    if not layers:
        return cover
    for r, front in zip(layers, visible_masks(layers), strict=True):
        if r.locked:
            cover[front] = 1.0
    return cover


def lock_anchor(vae: ModelMixin, canvases: list[Canvas], factor: int, noise: torch.Tensor) -> LockAnchor | None:
    """The anchor for a batch, or None when no canvas has a visible locked pixel.

    The content is the collage of every placed layer (what the canvas shows), so a locked layer
    partly covered by an unlocked one is anchored only where it is visible.
    """
    covers = [locked_coverage(c) for c in canvases]
    if not any(c.any() for c in covers):
        return None
    h, w = canvases[0].height // factor, canvases[0].width // factor  # latent grid
    full = [torch.from_numpy(c).view(h, factor, w, factor).amin(dim=(1, 3)) for c in covers]  # (h, w) in {0, 1}
    collages = [torch.from_numpy(np.asarray(composite(c), np.float32) / 127.5 - 1.0).permute(2, 0, 1)
                for c in canvases]  # what the canvas shows, over white as the condition encoder sees blanks
    images = torch.stack(collages).to(vae.device)  # (B, 3, H, W) in [-1, 1]
    latents = to_latents(vae, images).float()  # (B, C, 2h, 2w)
    packed = torch.stack([pack(x) for x in latents])  # (B, L, C·4)
    c = latents.shape[1]
    weight = torch.stack([pack(m.expand(c, h, w).contiguous()) for m in full]).to(packed.device)  # (B, L, C·4)
    return LockAnchor(packed, weight, noise.float().to(packed.device))
