"""Adaptive mask blending (Layout-and-Retouch sec. 3.2.2), numpy / scipy / scikit-image:

M_k = OR(Resize(M^C), M^SAM);  M = Normalize(D_l2(M_k)) + C(M^C), Normalize mapping the foreground's distance
transform to [0.5, 1] (background stays 0) and C removing connected components of M^C below a size threshold.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import remove_small_objects
from skimage.transform import resize


def cross_attention_mask(maps: np.ndarray, size: tuple[int, int], threshold: float = 0.5) -> np.ndarray:
    """Averaged cross-attention map (h, w) → binary M^C (H, W): min-max normalised, resized, thresholded."""
    a = maps.astype(np.float64)
    a = (a - a.min()) / max(a.max() - a.min(), 1e-12)
    return resize(a, size, order=1, mode="edge", anti_aliasing=False) >= threshold


def normalized_distance(mask: np.ndarray, low: float = 0.5, high: float = 1.0) -> np.ndarray:
    """l2 distance transform of a binary mask, mapped to [low, high] on the foreground, 0 elsewhere."""
    d = ndimage.distance_transform_edt(mask)
    out = np.zeros(mask.shape, np.float64)
    if mask.any():
        fg = d[mask]
        span = fg.max() - fg.min()
        out[mask] = high if span == 0 else low + (high - low) * (fg - fg.min()) / span
    return out


def remove_small_components(mask: np.ndarray, min_size: int) -> np.ndarray:
    """C(·): drop 8-connected components with fewer than `min_size` pixels."""
    if min_size <= 1:
        return mask.astype(bool)
    return remove_small_objects(mask.astype(bool), max_size=min_size - 1, connectivity=2)


def adaptive_blend_mask(mask_c: np.ndarray, mask_seg: np.ndarray | None, min_size: int = 16) -> np.ndarray:
    """M^C (H, W) bool, M^SAM (H, W) bool or None → blend mask M (H, W) in [0, 1]."""
    mask_c = mask_c.astype(bool)
    mk = mask_c if mask_seg is None else np.logical_or(mask_c, mask_seg.astype(bool))
    m = normalized_distance(mk) + remove_small_components(mask_c, min_size)
    return np.clip(m, 0.0, 1.0)
