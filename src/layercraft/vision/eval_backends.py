"""The real-photo models behind the eval runner's backend interfaces (`layercraft.eval.backends`).

`layercraft eval … --backends real` scores identity the papers' way on real photos: Sim(GT),
Sim(Ref), CP and Hungarian matching use face embeddings of the real face backend.

- `RealDetector.detect(image)`: person boxes (label 0) from the person split, seeded by the faces,
  and the face boxes (label 1).
- `RealIdentity.embed(image, boxes)`: for each person box, the identity embedding of the detected
  face lying most inside it (the highest one when several do), unit length; a box without a face
  gives a zero row (similarity 0, as the metrics count a missing face).

Embeddings are compared by cosine in the metrics: for the bundled dlib descriptor the cosine is a
monotone function of dlib's own distance (its descriptors have nearly equal lengths), so rankings
and matchings agree with it; an ArcFace-style ONNX model (`OnnxFaceEmbedder`) is cosine-native.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .faces import Face, FaceAnalyzer
from .people import PersonSegmenter

PERSON, FACE = 0, 1


def _inside(face: Face, box: np.ndarray) -> bool:
    cx, cy = face.center
    return bool(box[0] < cx < box[2] and box[1] < cy < box[3])


class RealIdentity:
    def __init__(self, analyzer: FaceAnalyzer | None = None) -> None:
        self.analyzer = analyzer or FaceAnalyzer()
        self.name = f"real-{self.analyzer.embedder.name}"
        self._cache: tuple[bytes, list[Face]] | None = None

    def _faces(self, image: np.ndarray) -> list[Face]:
        key = image.tobytes()[:: max(1, image.size // 4096)] + bytes(str(image.shape), "ascii")
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.analyzer.detect(Image.fromarray(np.asarray(image, np.uint8)), embed=True,
                                                     min_score=0.8))
        return self._cache[1]

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        faces = self._faces(np.asarray(image, np.uint8))
        dim = faces[0].embedding.shape[0] if faces else int(getattr(self.analyzer.embedder, "dim", 128) or 128)
        out = np.zeros((len(boxes), dim), np.float64)
        for k, box in enumerate(boxes):
            inside = [f for f in faces if _inside(f, box)]
            if inside:
                e = np.asarray(min(inside, key=lambda f: f.center[1]).embedding, np.float64)
                out[k] = e / max(np.linalg.norm(e), 1e-12)
        return out


class RealDetector:
    name = "real-detector"

    def __init__(self, segmenter: PersonSegmenter | None = None) -> None:
        self.segmenter = segmenter or PersonSegmenter()

    def detect(self, image: np.ndarray):
        from ..eval.backends import Detections

        photo = Image.fromarray(np.asarray(image, np.uint8))
        faces = self.segmenter.analyzer.detect(photo, min_score=0.8)
        people = [p for p in self.segmenter.split(photo, faces) if p.face is not None]
        boxes = [p.box for p in people] + [f.box for f in faces]
        scores = [p.face.score for p in people] + [f.score for f in faces]
        labels = [PERSON] * len(people) + [FACE] * len(faces)
        return Detections(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores), np.asarray(labels))


def real_backends():
    """Backends for `--backends real`: the real person/face detector and face identity (no attributes, no FID)."""
    from ..eval.backends import Backends

    analyzer = FaceAnalyzer()
    return Backends(identity=RealIdentity(analyzer), detector=RealDetector(PersonSegmenter(analyzer)))
