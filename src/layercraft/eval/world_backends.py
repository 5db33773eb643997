"""The world perception models behind the eval backend interfaces (`backends.py`).

IdentityEncoder (person crops → unit-norm embeddings), Detector (CenterNet: person / face boxes),
AttributeClassifier (scene kind / time; per-person expression, pose, facing) from
`layercraft.world.perception`, and FID features = the attribute classifier's scene backbone,
globally average-pooled (the world's stand-in for Inception pool features).
"""

from __future__ import annotations

import numpy as np
import torch

from .backends import Attributes, Backends, Detections
from .matching import iou_matrix

PERSON, FACE = 0, 1


class WorldIdentity:
    name = "world-identity"

    def __init__(self, encoder):
        self.encoder = encoder

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return self.encoder.embed_boxes(image, np.asarray(boxes, np.float32).reshape(-1, 4)).numpy()


class WorldDetector:
    name = "world-detector"

    def __init__(self, detector, threshold: float = 0.05):
        self.detector, self.threshold = detector, threshold
        self.last: Detections | None = None  # all labels of the last image (faces for the attribute classifier)

    def detect(self, image: np.ndarray) -> Detections:
        o = self.detector.detect([image], threshold=self.threshold)[0]
        self.last = Detections(o["boxes"].numpy(), o["scores"].numpy(), o["labels"].numpy())
        return self.last


def face_boxes(person: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """For each person box (N, 4), the detected face lying most inside it, else the top fifth of the box."""
    out = []
    for p in np.asarray(person, float).reshape(-1, 4):
        inside = iou_matrix(p[None], faces)[0] if len(faces) else np.zeros(0)
        cx = (faces[:, 0] + faces[:, 2]) / 2 if len(faces) else np.zeros(0)
        cy = (faces[:, 1] + faces[:, 3]) / 2 if len(faces) else np.zeros(0)
        ok = (cx > p[0]) & (cx < p[2]) & (cy > p[1]) & (cy < p[3]) & (inside > 0)
        if ok.any():
            out.append(faces[np.flatnonzero(ok)[np.argmin(cy[ok])]])  # the highest face inside the box
        else:
            w, h = p[2] - p[0], p[3] - p[1]
            out.append([p[0] + 0.3 * w, p[1], p[2] - 0.3 * w, p[1] + 0.2 * h])
    return np.array(out, float).reshape(-1, 4)


class WorldAttributes:
    name = "world-attributes"

    def __init__(self, classifier, detector: WorldDetector):
        self.classifier, self.detector = classifier, detector

    def predict(self, image: np.ndarray, boxes: np.ndarray) -> Attributes:
        det = self.detector.detect(image).of_label(FACE)
        people = self.classifier.predict_people(image, boxes, face_boxes(boxes, det.boxes)) if len(boxes) else []
        return Attributes(self.classifier.predict_image(image), people)


class WorldFeatures:
    name = "world-scene-features"

    def __init__(self, classifier):
        self.classifier = classifier

    @torch.no_grad()
    def features(self, images: list[np.ndarray]) -> np.ndarray:
        self.classifier.eval()
        return self.classifier.scene(self.classifier.scene_input(list(images)))[-1].mean((2, 3)).numpy()


def world_backends(directory=None) -> Backends:
    """The trained world perception models (from their asset folder, or `directory`)."""
    from ..world.perception.attributes import AttributeClassifier
    from ..world.perception.detector import Detector
    from ..world.perception.identity import IdentityEncoder

    kw = {} if directory is None else {"directory": directory}
    det = WorldDetector(Detector.from_pretrained(**kw))
    cls = AttributeClassifier.from_pretrained(**kw)
    return Backends(WorldIdentity(IdentityEncoder.from_pretrained(**kw)), det, WorldAttributes(cls, det),
                    WorldFeatures(cls))
