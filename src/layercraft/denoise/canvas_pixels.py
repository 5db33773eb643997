"""Canvas pixels as the autoencoder sees them."""

from __future__ import annotations

import numpy as np
import torch


def rgba_to_tensor(rgba: np.ndarray) -> torch.Tensor:
    """(H, W, 4) uint8 → (3, H, W) in [-1, 1], transparent pixels over white (AnyPhoto's blank canvas)."""
    x = torch.from_numpy(rgba.astype(np.float32) / 255.0)
    rgb, a = x[..., :3], x[..., 3:]
    return (rgb * a + (1.0 - a)).permute(2, 0, 1) * 2.0 - 1.0
