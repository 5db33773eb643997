"""Fréchet distance between feature distributions (FID; Heusel et al. 2017) on world features.

For features X (N, D) of real images and Y (M, D) of generated ones, with means μ and covariances Σ:

    FD = |μ_x − μ_y|² + tr(Σ_x + Σ_y − 2 (Σ_x Σ_y)^{1/2})

the same formula as torchmetrics `FrechetInceptionDistance` / pytorch-fid, computed here in float64
with `scipy.linalg.sqrtm` (imaginary round-off dropped, as pytorch-fid does). The features are the
world perception models' embeddings (any `FeatureExtractor`), not Inception's: the world is
synthetic, and the encoder trained on it is the one that sees its differences.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy import linalg


class FeatureExtractor(Protocol):
    name: str

    def features(self, images: list[np.ndarray]) -> np.ndarray:
        """List of (H, W, 3) uint8 images → (N, D) float features."""
        ...


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) → mean (D,) and unbiased covariance (D, D)."""
    f = np.asarray(features, np.float64)
    if len(f) < 2:
        raise ValueError("FID needs at least 2 feature vectors per set")
    return f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray, eps: float = 1e-6) -> float:
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # singular product: regularise as pytorch-fid does
        off = np.eye(len(s1)) * eps
        covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    covmean = np.real(covmean)
    return float(max(0.0, diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)))


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    """FID of two (N, D) feature sets."""
    return frechet_distance(*gaussian(real), *gaussian(fake))
