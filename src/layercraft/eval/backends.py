"""The perception interfaces metrics are written against; real models plug in behind them.

- `IdentityBackend.embed(image, boxes)`: one unit-norm identity embedding per box (the backend
  crops the way it was trained: the world encoder crops persons, dlib / ArcFace crop faces).
- `Detector.detect(image)`: person (or face) detections with scores.
- `AttributeClassifier.predict(image, boxes)`: image attributes (background kind, time of day)
  and per-box person attributes (expression, pose, facing).

Images are (H, W, 3) uint8 arrays; boxes are (N, 4) float x0, y0, x1, y1 in image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class Detections:
    boxes: np.ndarray  # (M, 4) float x0, y0, x1, y1
    scores: np.ndarray  # (M,) float in [0, 1]
    labels: np.ndarray  # (M,) int class ids (0 = person)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float64).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float64).reshape(-1)
        self.labels = np.asarray(self.labels, np.int64).reshape(-1)
        if not (len(self.boxes) == len(self.scores) == len(self.labels)):
            raise ValueError("boxes, scores and labels must have the same length")

    def __len__(self) -> int:
        return len(self.boxes)

    def of_label(self, label: int) -> Detections:
        keep = self.labels == label
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep])


@dataclass
class Attributes:
    image: dict[str, str] = field(default_factory=dict)  # e.g. {"background": "beach", "time": "day"}
    people: list[dict[str, str]] = field(default_factory=list)  # per box: expression, pose, facing


@runtime_checkable
class IdentityBackend(Protocol):
    name: str

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 image, (N, 4) boxes → (N, D) float unit-norm embeddings."""
        ...


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> Detections:
        """(H, W, 3) uint8 image → detections."""
        ...


@runtime_checkable
class AttributeClassifier(Protocol):
    name: str

    def predict(self, image: np.ndarray, boxes: np.ndarray) -> Attributes:
        """(H, W, 3) uint8 image and (N, 4) person boxes → image and per-person attributes."""
        ...


@dataclass
class Backends:
    """What a scoring run has; a family whose backend is None is recorded as skipped, with the reason."""

    identity: IdentityBackend | None = None
    detector: Detector | None = None
    attributes: AttributeClassifier | None = None
    features: object | None = None  # FeatureExtractor (fid.py) for FID; None → no FID

    def missing(self) -> list[str]:
        return [k for k in ("identity", "detector", "attributes", "features") if getattr(self, k) is None]
