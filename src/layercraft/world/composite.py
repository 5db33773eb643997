"""The one alpha-over used everywhere (render, tests, exports), exact in uint8."""

from __future__ import annotations

import numpy as np


def alpha_over(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """`src` (h, w, 4) uint8 over opaque `dst` (h, w, 3) uint8 → (h, w, 3) uint8.

    out = round((src·a + dst·(255 − a)) / 255) computed in uint16 (max 255·255 + 127 fits), so
    transparent pixels return `dst` unchanged and opaque ones return `src` exactly.
    """
    a = src[..., 3:4].astype(np.uint16)
    out = src[..., :3].astype(np.uint16) * a
    out += dst.astype(np.uint16) * (255 - a)
    out += 127
    out //= 255
    return out.astype(np.uint8)


def composite_layers(plate: np.ndarray, layers: np.ndarray) -> np.ndarray:
    """Full-canvas composite: `plate` (H, W, 3) with `layers` (N, H, W, 4) over it, back to front."""
    out = plate.copy()
    for layer in layers:
        out = alpha_over(out, layer)
    return out


def visible_masks(alphas: np.ndarray, threshold: int = 128) -> np.ndarray:
    """(N, H, W) bool: layer alpha ≥ threshold and no layer in front (higher index) ≥ threshold there."""
    opaque = alphas >= threshold
    out = np.zeros_like(opaque)
    seen = np.zeros(alphas.shape[1:], bool)
    for i in range(len(alphas) - 1, -1, -1):
        out[i] = opaque[i] & ~seen
        seen |= opaque[i]
    return out
