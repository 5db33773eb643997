"""Per-image perception for a prepared dataset: one photo (or video frame) → one record, or a refusal.

A record holds the schema-2 sample fields (docs/data.md): the photo at most `max_side` px on its
longer side (`rgb.png`), the background remainder (`plate.png`, with `plate_alpha` in `gt.npz`),
each person's RGBA layer (`layers`, back to front), visible masks, face / upper / lower region
masks, person and face boxes, 5 landmarks, identity embeddings, and a meta with the caption,
per-person descriptors and quality figures (face size in the original photo's pixels, sharpness
as the variance of the Laplacian of the largest face aligned at 112×112, a 64-bit difference hash
for duplicates). Identities and scenes are not known here: the finalising step adds them.

The perception is `layercraft.vision`: `FaceAnalyzer` (MTCNN + dlib embeddings) and
`PersonSegmenter` (selfie segmentation split by faces); `Perception` loads them once per worker.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ..vision.errors import PhotoError
from ..vision.faces import FaceAnalyzer, align_face
from ..vision.people import PersonSegmenter, SelfieSegmenter
from ..vision.photo import working_copy
from ..world.sample import Sample
from ..world.shards import SCHEMA_VERSION, encode
from .captions import ModelCaptioner, descriptors, region_parts, template_caption
from .sources import Item, item_path, load_item

REASONS = {
    "unreadable": "not a readable image or video (corrupt, truncated, unknown format)",
    "empty_file": "zero-byte file",
    "too_large": "over the photo size limit (200 megapixels / 512 MiB)",
    "no_frames": "a video without frames",
    "no_face": "no face found",
    "face_too_small": "largest face under --min-face pixels",
    "blurry": "largest face sharpness under --min-sharpness",
    "no_person": "faces found but no person mask",
    "too_many_identities": "more identities in the image, or in the scene it would join, than --max-identities",
    "duplicate": "a near-copy (difference hash) of an earlier image",
    "excluded_identity": "shows an identity given to --exclude-identity",
    "failed": "perception raised an unexpected error (the detail names it); the run goes on",
}


@dataclass
class PrepareOptions:
    max_side: int = 1024  # stored photo size (longer side)
    min_face: float = 40.0  # px of the original photo, the largest face's longer box side
    min_sharpness: float = 15.0  # variance of the Laplacian of the aligned 112×112 largest face
    max_identities: int = 6  # per scene (a photo showing more is refused before clustering)
    dup_distance: int = 3  # difference-hash Hamming distance at or under which an image is a duplicate (0-3)
    every: float = 2.0  # seconds between video frames
    chunk: int = 64  # items per work shard
    per_shard: int = 256  # samples per final shard
    captioner: str | None = None
    store_paths: bool = False
    exclude: list[int] = field(default_factory=list)
    references: str | None = None
    holdout: float = 0.0  # fraction of scenes held out (by a hash of the scene's smallest identity)

    def to_json(self) -> dict:
        return asdict(self)


def dhash(rgb: np.ndarray) -> int:
    """64-bit difference hash of the grey image at 9×8."""
    grey = np.asarray(Image.fromarray(rgb).convert("L").resize((9, 8), Image.Resampling.BOX), np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def sharpness(photo: Image.Image, landmarks: np.ndarray) -> float:
    grey = np.asarray(align_face(photo, landmarks, 112).convert("L"), np.float32)
    return float(ndimage.laplace(grey)[8:-8, 8:-8].var())


class Perception:
    """The models of one worker, loaded once: faces (+ embeddings), person split, optional captioner."""

    def __init__(self, captioner: str | None = None, threads: int | None = None) -> None:
        """`threads`: set torch's and the mask model's thread count (worker processes: 1 each)."""
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self.faces = FaceAnalyzer()
        self.people = PersonSegmenter(self.faces, SelfieSegmenter(threads=threads or 2))
        self.captioner = ModelCaptioner(captioner) if captioner else None

    _shared: dict = {}

    @classmethod
    def shared(cls, captioner: str | None = None) -> Perception:
        """One set of models per process and captioner (in-process runs reuse them)."""
        if captioner not in cls._shared:
            cls._shared[captioner] = cls(captioner)
        return cls._shared[captioner]

    @property
    def embedder_info(self) -> dict:
        emb = self.faces.embedder
        return {"name": emb.name, "dim": int(emb.dim), "threshold": float(emb.threshold),
                "metric": "euclidean" if emb.name.startswith("dlib") else "cosine"}


@dataclass
class Outcome:
    item: int
    reason: str | None  # None: kept
    detail: str = ""
    fields: dict[str, bytes] | None = None
    summary: dict | None = None  # what finalising needs: embeddings, face sizes, hash, people count


def _classify(path: Path | None, err: PhotoError) -> str:
    msg = str(err)
    if path is not None and path.is_file() and path.stat().st_size == 0 or "empty file" in msg:
        return "empty_file"
    if "over the limit" in msg or "too large" in msg or "larger than" in msg:
        return "too_large"
    if "no frame" in msg:
        return "no_frames"
    return "unreadable"


def perceive(item: Item, sources: list[Path], opts: PrepareOptions, models: Perception,
             data: bytes | None = None) -> Outcome:
    """One item's record or refusal; `data`: its file's bytes when they were read already (Ray Data)."""
    path = item_path(sources, item)
    try:
        photo = load_item(sources, item, data)
    except PhotoError as err:
        return Outcome(item.id, _classify(path, err), str(err).splitlines()[0])
    orig_w, orig_h = photo.size
    small, f = working_copy(photo, opts.max_side)
    del photo
    scale = float(f.mean())  # stored px per original px
    rgb = np.ascontiguousarray(np.asarray(small.convert("RGB")))
    faces = models.faces.detect(small, embed=True)
    if not faces:
        return Outcome(item.id, "no_face", f"{item.name}: no face found")
    largest = faces[0].size / scale
    if largest < opts.min_face:
        return Outcome(item.id, "face_too_small", f"{item.name}: largest face {largest:.0f} px < {opts.min_face:g}")
    sharp = sharpness(small, faces[0].landmarks)
    if sharp < opts.min_sharpness:
        return Outcome(item.id, "blurry", f"{item.name}: face sharpness {sharp:.1f} < {opts.min_sharpness:g}")
    people = models.people.split(small, faces)
    if not people:
        return Outcome(item.id, "no_person", f"{item.name}: no person mask")
    h, w = rgb.shape[:2]
    n = len(people)
    dim = int(models.faces.embedder.dim)
    layers = np.zeros((n, h, w, 4), np.uint8)
    parts = np.zeros((n, 4, h, w), bool)
    person_boxes = np.zeros((n, 4), np.int32)
    face_boxes = np.zeros((n, 4), np.int32)
    landmarks = np.zeros((n, 5, 2), np.float32)
    embeddings = np.zeros((n, dim), np.float32)
    meta_people = []
    for i, p in enumerate(people):
        layers[i] = np.asarray(p.layer(small))
        alpha = layers[i, ..., 3]
        person_boxes[i] = p.box
        fb = None
        if p.face is not None:
            fb = p.face.box
            face_boxes[i] = np.round(fb).astype(np.int32)
            landmarks[i] = p.face.landmarks
            embeddings[i] = p.face.embedding
        parts[i] = region_parts(alpha, fb)
        desc, descs = descriptors(rgb, alpha, fb, parts[i])
        face_px = None if p.face is None else round(p.face.size / scale, 1)
        meta_people.append({"identity": None, "description": desc, "descriptors": descs,
                            "face_box": None if fb is None else [round(float(v), 1) for v in fb],
                            "face_size": face_px, "face_score": None if p.face is None else round(p.face.score, 4),
                            "identifiable": face_px is not None and face_px >= opts.min_face})
    total = layers[..., 3].astype(np.int32).sum(0)
    plate_alpha = (255 - np.clip(total, 0, 255)).astype(np.uint8)
    visible = layers[..., 3] >= 128
    if models.captioner is not None:
        caption = models.captioner(small)
        if item.scene_words:
            caption = f"{caption}, {item.scene_words}"
    else:
        caption = template_caption(w, meta_people, item.scene_words)
    meta = {"schema": SCHEMA_VERSION, "source": "photos", "item": item.id, "prompt": caption, "caption": caption,
            "people": meta_people, "album": item.album if opts.store_paths else None,
            "background": {"kind": item.scene_words or "photo", "time": ""},
            "quality": {"width": orig_w, "height": orig_h, "stored": [w, h], "sharpness": round(sharp, 2),
                        "largest_face": round(largest, 1)}}
    if opts.store_paths:
        meta["path"] = str(path.resolve())
        if item.time is not None:
            meta["time"] = item.time
    sample = Sample(rgb, rgb, layers, visible, parts, person_boxes, face_boxes, landmarks, meta,
                    plate_alpha=plate_alpha, embeddings=embeddings)
    fields = encode(sample)  # plate.png is the photo; plate_alpha says which of its pixels are background
    summary = {"embeddings": [[round(float(v), 6) for v in e] for e in embeddings],
               "has_face": [p.face is not None for p in people],
               "identifiable": [mp["identifiable"] for mp in meta_people],
               "face_boxes": [mp["face_box"] for mp in meta_people], "hash": f"{dhash(rgb):016x}",
               "n_people": n}
    return Outcome(item.id, None, "", fields, summary)


def outcome_json(o: Outcome) -> dict:
    return {"item": o.item, "reason": o.reason, "detail": o.detail, "summary": o.summary}


def dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
