"""Faces on real photos: boxes, scores, 5 landmarks (ArcFace order), aligned crops, identity embeddings.

`FaceAnalyzer` joins a detector and an identity embedder. The bundled defaults are MTCNN
(`mtcnn.py`, boxes + 5 landmarks) and dlib's 128-d ResNet descriptor (its face chip is aligned by
dlib's own 5-point predictor inside the detected box). Every coordinate is in pixels of the photo
given: detection runs on a copy whose longer side is at most `max_side` and maps back.

Landmark order (ArcFace / insightface): image-left eye, image-right eye, nose tip, image-left
mouth corner, image-right mouth corner. `align_face` warps a face onto the ArcFace 112×112
template by the least-squares similarity transform of its 5 landmarks.

Identity similarity is the embedder's own score (higher: more alike): `1 - Euclidean distance` for
dlib's descriptor, the cosine for ArcFace-style models. Each embedder states the threshold at or
above which two faces are called the same person (`threshold`); docs/vision.md gives the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image
from skimage.transform import SimilarityTransform

from .assets import model_path
from .errors import NoFaceError, VisionError
from .photo import load_photo, working_copy

ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]])  # in a 112×112 crop


@dataclass
class Face:
    box: np.ndarray  # x0, y0, x1, y1 (photo pixels)
    score: float
    landmarks: np.ndarray  # (5, 2) ArcFace order
    embedding: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])

    def to_json(self) -> dict:
        return {"box": [round(float(v), 2) for v in self.box], "score": round(float(self.score), 4),
                "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks]}


def similarity_to_template(landmarks: np.ndarray, size: int = 112) -> SimilarityTransform:
    """The similarity transform taking `landmarks` (photo pixels) onto the ArcFace template scaled to `size`."""
    tform = SimilarityTransform.from_estimate(np.asarray(landmarks, np.float64).reshape(5, 2),
                                              ARCFACE_TEMPLATE * (size / 112.0))
    if not tform:
        raise VisionError("face landmarks are degenerate (no similarity transform)")
    return tform


def align_face(image: Image.Image | np.ndarray, landmarks: np.ndarray, size: int = 112) -> Image.Image:
    """The face warped onto the ArcFace template: a size×size RGB crop (bicubic; black outside the photo)."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, np.uint8))
    inv = np.linalg.inv(similarity_to_template(landmarks, size).params)  # crop pixel → photo pixel
    coeffs = tuple(inv[:2].ravel())
    return img.convert("RGB").transform((size, size), Image.Transform.AFFINE, coeffs, Image.Resampling.BICUBIC)


class Detector(Protocol):
    def detect(self, rgb: np.ndarray, min_face: float | None = None): ...


class Embedder(Protocol):
    name: str
    dim: int
    threshold: float  # similarity at or above which two faces are the same person

    def embed(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray: ...

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float: ...


class DlibEmbedder:
    """dlib's ResNet face descriptor (128-d), its chips aligned by dlib's 5-point predictor in the box.

    The descriptor was trained so that one person's faces lie within Euclidean distance 0.6 of
    each other; similarity is `1 - distance`, so the same-person threshold is 0.4."""

    name = "dlib-resnet-v1"
    dim = 128
    threshold = 0.4

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        return 1.0 - float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as err:  # pragma: no cover - dlib-bin is a dependency
            raise VisionError(f"the dlib face embedder needs the dlib-bin package ({err})") from None
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(model_path("shape_predictor_5_face_landmarks.dat")))
        self._net = dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))

    def embed(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), np.float32)
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        shapes = self._dlib.full_object_detections()
        for f in faces:
            x0, y0, x1, y1 = (int(round(float(v))) for v in f.box)
            shapes.append(self._shape(rgb, self._dlib.rectangle(x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))))
        out = np.asarray(self._net.compute_face_descriptor(rgb, shapes), np.float32).reshape(len(faces), self.dim)
        return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


class FaceAnalyzer:
    """Detect faces, give their landmarks, aligned crops and identity embeddings.

    `max_side`: the detector runs on a copy of the photo at most this many pixels on its longer
    side (a 60-megapixel photo is detected at ≈ 1.6 MP), coordinates mapped back; `min_face` is
    the smallest face searched, in pixels of that copy. `detector` / `embedder` default to the
    bundled MTCNN and dlib models (loaded on first use)."""

    def __init__(self, detector: Detector | None = None, embedder: Embedder | None = None, *,
                 max_side: int = 1600, min_face: float = 20.0) -> None:
        self._detector, self._embedder = detector, embedder
        self.max_side, self.min_face = max_side, min_face

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            from .mtcnn import MTCNN

            self._detector = MTCNN(min_face=self.min_face)
        return self._detector

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = DlibEmbedder()
        return self._embedder

    @property
    def threshold(self) -> float:
        return self.embedder.threshold

    def detect(self, photo: Image.Image | np.ndarray | str | Path, *, embed: bool = False,
               min_score: float = 0.9) -> list[Face]:
        """Faces in `photo`, largest first, in its pixels; with `embed`, each with its identity embedding."""
        img = photo if isinstance(photo, Image.Image) else (
            Image.fromarray(np.asarray(photo, np.uint8)) if isinstance(photo, np.ndarray) else load_photo(photo))
        img = img.convert("RGB")
        small, f = working_copy(img, self.max_side)
        rgb = np.asarray(small)
        det = self.detector.detect(rgb, self.min_face)
        faces = []
        for box, score, lms in zip(det.boxes, det.scores, det.landmarks, strict=True):
            if score < min_score:
                continue
            faces.append(Face(box=np.asarray(box, np.float64) / np.tile(f, 2), score=float(score),
                              landmarks=np.asarray(lms, np.float64) / f))
        faces.sort(key=lambda fc: -fc.size)
        if embed and faces:
            if f[0] < 1.0:  # embed on the working copy, whose face boxes are the detector's own
                scaled = [Face(box=fc.box * np.tile(f, 2), score=fc.score, landmarks=fc.landmarks * f) for fc in faces]
                emb = self.embedder.embed(rgb, scaled)
            else:
                emb = self.embedder.embed(rgb, faces)
            for fc, e in zip(faces, emb, strict=True):
                fc.embedding = e
        return faces

    def largest(self, photo, *, embed: bool = True, name: str = "photo") -> Face:
        faces = self.detect(photo, embed=embed)
        if not faces:
            raise NoFaceError(f"{name}: no face found")
        return faces[0]

    def align(self, photo: Image.Image, face: Face, size: int = 112) -> Image.Image:
        return align_face(photo, face.landmarks, size)

    def compare(self, a, b, *, names: tuple[str, str] = ("A", "B")) -> tuple[float, bool]:
        """Cosine similarity of the largest face in each photo, and whether it is above the threshold."""
        fa, fb = self.largest(a, name=names[0]), self.largest(b, name=names[1])
        s = self.embedder.similarity(fa.embedding, fb.embedding)
        return s, s >= self.threshold
