"""A rendered image with all of its ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CATEGORY_PARTS = ("face", "upper_garment", "lower_garment", "bag")  # order of `Sample.parts` axis 1


@dataclass
class Sample:
    rgb: np.ndarray  # (H, W, 3) uint8: the image
    plate: np.ndarray  # (H, W, 3) uint8: background only (clean plate), lit like the image
    layers: (
        np.ndarray
    )  # (N, H, W, 4) uint8: each person's full RGBA layer incl. occluded parts, back to front
    visible: np.ndarray  # (N, H, W) bool: alpha ≥ 128 and not covered (alpha ≥ 128) by a layer in front
    parts: np.ndarray  # (N, 4, H, W) bool: full (unoccluded) face / upper / lower / bag masks
    person_boxes: np.ndarray  # (N, 4) int32 x0, y0, x1, y1 (end-exclusive) of layer alpha > 0
    face_boxes: np.ndarray  # (N, 4) int32 box of the face mask
    landmarks: np.ndarray  # (N, 5, 2) float32 image px: l-eye, r-eye, nose tip, l-mouth, r-mouth
    meta: dict  # JSON-able: spec, per-person attributes and descriptors, background, prompt
    # schema 2 (prepared photo datasets, `layercraft.data`); None for world samples:
    plate_alpha: np.ndarray | None = None  # (H, W) uint8: where the plate is background (255) vs. people removed (0)
    embeddings: np.ndarray | None = None  # (N, D) float32 face identity embeddings (zeros: person without a face)

    @property
    def n(self) -> int:
        return len(self.layers)

    def layer_ids(self) -> list[str]:
        return [f"p{i}" for i in range(self.n)]
