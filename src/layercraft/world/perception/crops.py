"""Cropping a person or face out of an image the same way for training, evaluation and tests.

A crop is a fixed-aspect window centred on the box, scaled so that the whole box fits with a
margin, resampled with antialiasing; parts outside the image are filled with mid-grey (0.5).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

PERSON_CROP = (64, 48)  # (H, W) of person crops fed to the identity encoder and person attributes
MARGIN = 1.1  # the window is MARGIN × the box along its tighter-fitting side
FACE_CROP = (32, 32)  # (H, W) of face crops fed to the expression head
FACE_MARGIN = 1.3


def to_float_image(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(H, W, 3) uint8 array or (3, H, W) uint8/float tensor → (3, H, W) float32 in [0, 1]."""
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)  # a private, writable copy
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    return image.float()


def window(box, out_hw: tuple[int, int] = PERSON_CROP, margin: float = MARGIN) -> tuple[float, float, float, float]:
    """The crop window (x0, y0, x1, y1) in image pixels for `box` (x0, y0, x1, y1) and output aspect."""
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h = max(y1 - y0, (x1 - x0) * out_hw[0] / out_hw[1], 1.0) * margin
    w = h * out_hw[1] / out_hw[0]
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def crop(image: np.ndarray | torch.Tensor, box, out_hw: tuple[int, int] = PERSON_CROP, margin: float = MARGIN):
    """One crop of `box` from `image` → (3, out_h, out_w) float32 in [0, 1]."""
    img = to_float_image(image)  # (3, H, W)
    _, H, W = img.shape
    wx0, wy0, wx1, wy1 = window(box, out_hw, margin)
    ix0, iy0 = round(wx0), round(wy0)
    ix1, iy1 = max(ix0 + 1, round(wx1)), max(iy0 + 1, round(wy1))  # the window rounded to whole pixels
    pad = max(0, -ix0, -iy0, ix1 - W, iy1 - H)
    if pad:
        img = F.pad(img[None], (pad, pad, pad, pad), value=0.5)[0]
    patch = img[:, iy0 + pad : iy1 + pad, ix0 + pad : ix1 + pad]  # (3, h, w)
    out = F.interpolate(patch[None], size=out_hw, mode="bilinear", antialias=True, align_corners=False)[0]
    return out.clamp_(0, 1)


def crops(image, boxes, out_hw: tuple[int, int] = PERSON_CROP, margin: float = MARGIN) -> torch.Tensor:
    """Crops of every box in `boxes` (N, 4) → (N, 3, out_h, out_w) float32 in [0, 1]."""
    img = to_float_image(image)
    if len(boxes) == 0:
        return torch.zeros(0, 3, *out_hw)
    return torch.stack([crop(img, b, out_hw, margin) for b in np.asarray(boxes)])
