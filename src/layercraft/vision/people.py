"""People on real photos: one RGBA layer per person, split from a one-class person mask by the faces.

The bundled mask model is MediaPipe's selfie segmentation (a 256×256 one-class "person" mask, run
with ai-edge-litert). It is run once on the whole photo and once more on a head-and-torso window
around every detected face (small people get a mask at the model's full resolution); the union
(pixel-wise maximum) is the soft person mask.

Splitting the mask into instances, seeded by the faces (`split_instances`): every mask pixel goes
to the person whose *body prior* fits it best. A person's prior is a column hanging from the face:
in units of the face size s, a pixel at (dx, dy) from the face centre costs |dx| / w(dy), with w
growing from 0.6 (head) to 1.8 (shoulders, 1.5 s below the face centre) and more cost for pixels
above the head. A person whose face lies wholly below another's stands in front of them: the
front person's column, from the top of the head down, costs the one behind 2 more. Pixels take
the cheapest person; then each person keeps only the parts of its region connected to its face,
and cut-off parts go to the neighbouring person they touch most (or to the cheapest other person;
specks under 0.2 % of the photo that touch nobody are dropped). Without faces, each large
connected part of the mask is one person. Soft alpha: the mask probability times a slightly
blurred one-hot of the labels, so the layers add up to the mask. docs/vision.md measures the
split on group photos made from single-person photos.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from .assets import model_path
from .errors import VisionError
from .faces import Face, FaceAnalyzer
from .photo import load_photo, working_copy


@contextlib.contextmanager
def _quiet_stderr():
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured by a test runner)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class SelfieSegmenter:
    """MediaPipe selfie segmentation through ai-edge-litert: RGB uint8 → person probability in [0, 1]."""

    def __init__(self, model: str | Path | None = None, threads: int = 2) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:  # pragma: no cover - a dependency
            raise VisionError(f"person segmentation needs the ai-edge-litert package ({err})") from None
        path = str(model or model_path("selfie_segmentation.tflite"))
        with _quiet_stderr():  # the runtime prints an INFO line about its CPU delegate on fd 2
            self._it = Interpreter(model_path=path, num_threads=threads)
            self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]
        self._out = self._it.get_output_details()[0]
        self.size = int(self._in["shape"][2]), int(self._in["shape"][1])  # w, h

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        x = np.asarray(Image.fromarray(rgb).resize(self.size, Image.Resampling.BILINEAR), np.float32) / 255.0
        self._it.set_tensor(self._in["index"], x[None])
        self._it.invoke()
        prob = self._it.get_tensor(self._out["index"])[0, :, :, 0].astype(np.float32)
        return np.asarray(Image.fromarray(prob, "F").resize((w, h), Image.Resampling.BILINEAR)).clip(0, 1)


@dataclass
class Person:
    box: np.ndarray  # x0, y0, x1, y1 of the person's alpha (photo pixels, integers)
    alpha: np.ndarray  # uint8 alpha inside box, shape (y1 - y0, x1 - x0)
    face: Face | None
    area: int  # photo pixels with alpha ≥ 128

    def layer(self, photo: Image.Image, *, crop: bool = False) -> Image.Image:
        """The person as RGBA: photo size (transparent elsewhere), or cropped to the box with `crop`."""
        x0, y0, x1, y1 = (int(v) for v in self.box)
        part = photo.convert("RGB").crop((x0, y0, x1, y1)).convert("RGBA")
        part.putalpha(Image.fromarray(self.alpha, "L"))
        if crop:
            return part
        full = Image.new("RGBA", photo.size, (0, 0, 0, 0))
        full.paste(part, (x0, y0))
        return full

    def to_json(self) -> dict:
        return {"box": [int(v) for v in self.box], "face_box": None if self.face is None else
                [round(float(v), 2) for v in self.face.box], "mask_area": int(self.area),
                "face_score": None if self.face is None else round(float(self.face.score), 4)}


def _body_cost(shape: tuple[int, int], face: Face, scale: float) -> np.ndarray:
    h, w = shape
    s = max(face.size * scale, 2.0)
    cx, cy = face.center * scale
    dx = np.abs(np.arange(w, dtype=np.float32) - cx)[None, :] / s
    dy = (np.arange(h, dtype=np.float32) - cy)[:, None] / s
    width = 0.6 + 1.2 * np.clip(dy - 0.5, 0.0, 1.0)  # 0.6 at the head → 1.8 at the shoulders
    return dx / width + np.maximum(-0.7 - dy, 0.0) * 2.0


def split_instances(mask: np.ndarray, faces: list[Face], scale: float = 1.0, min_part: float = 0.002) -> np.ndarray:
    """Labels (0 = background, k + 1 = person k) for a boolean `mask`, seeded by `faces` (photo px × scale)."""
    h, w = mask.shape
    labels = np.zeros((h, w), np.int32)
    if not faces:
        comp, n = ndimage.label(mask)
        sizes = ndimage.sum(mask, comp, range(1, n + 1))
        keep = [k + 1 for k in np.argsort(-sizes) if sizes[k] >= min_part * h * w]
        for j, k in enumerate(keep):
            labels[comp == k] = j + 1
        return labels
    cost = np.stack([_body_cost((h, w), f, scale) for f in faces])
    # occlusion: a person whose face lies wholly below another's face stands in front of them, so
    # within the front person's own column (head and body) the one behind is unlikely
    top = np.arange(h, dtype=np.float32)[:, None]
    for b, fb in enumerate(faces):
        region = (cost[b] < 1.0) & (top > (fb.box[1] - 0.2 * fb.size) * scale)
        if not region.any():
            continue
        for a, fa in enumerate(faces):
            if a != b and fb.center[1] > fa.box[3]:
                cost[a][region] += 2.0
    order = np.argsort(cost, axis=0)
    labels[mask] = order[0][mask] + 1
    # seed regions: the face box (shrunk) is always its own person's, even if the mask misses it
    seeds = np.zeros((h, w), np.int32)
    for k, f in enumerate(faces):
        x0, y0, x1, y1 = f.box * scale
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, max((x1 - x0), (y1 - y0)) * 0.25
        sl = (slice(max(0, int(cy - r)), max(1, int(np.ceil(cy + r)))),
              slice(max(0, int(cx - r)), max(1, int(np.ceil(cx + r)))))
        seeds[sl] = k + 1
        labels[sl] = np.where(mask[sl] | (seeds[sl] == k + 1), k + 1, labels[sl])
    # connectivity: a person keeps the parts of its region that touch its face seed
    for _ in range(2):
        orphans = np.zeros((h, w), bool)
        for k in range(len(faces)):
            comp, n = ndimage.label(labels == k + 1)
            if n <= 1:
                continue
            good = set(np.unique(comp[(seeds == k + 1) & (comp > 0)]).tolist())
            for c in range(1, n + 1):
                if c not in good:
                    orphans |= comp == c
        if not orphans.any():
            break
        comp, n = ndimage.label(orphans)
        for c in range(1, n + 1):
            part = comp == c
            ring = ndimage.binary_dilation(part) & ~part & (labels > 0) & ~orphans
            if ring.any():
                new = np.bincount(labels[ring]).argmax()
            elif part.sum() < min_part * h * w:  # a speck touching nobody: background
                new = 0
            else:
                old = labels[part][0] - 1
                new = int(order[1][part][0] if order[0][part][0] == old and len(faces) > 1 else old) + 1
            labels[part] = new
    return labels


def match_faces(alphas: list[np.ndarray], faces: list[Face], scale: float,
                min_overlap: float = 0.3) -> list[int | None]:
    """The face of each instance (index into `faces`, or None): pairs are taken greedily by the share of the
    face box (photo px × `scale`) that the instance covers (alpha ≥ 0.5), each face and instance once,
    from `min_overlap` up."""
    pairs = []
    for i, alpha in enumerate(alphas):
        h, w = alpha.shape
        for j, face in enumerate(faces):
            x0, y0, x1, y1 = face.box * scale
            xa, ya = int(np.clip(np.floor(x0), 0, w)), int(np.clip(np.floor(y0), 0, h))
            xb, yb = int(np.clip(np.ceil(x1), 0, w)), int(np.clip(np.ceil(y1), 0, h))
            if xb > xa and yb > ya:
                pairs.append((float((alpha[ya:yb, xa:xb] >= 0.5).mean()), i, j))
    match: list[int | None] = [None] * len(alphas)
    used = set()
    for overlap, i, j in sorted(pairs, key=lambda p: -p[0]):
        if overlap >= min_overlap and match[i] is None and j not in used:
            match[i] = j
            used.add(j)
    return match


def _person(soft: np.ndarray, region: np.ndarray, f: np.ndarray, size: tuple[int, int], face: Face | None) -> Person:
    """A person from its soft alpha and its region at working size (photo × `f`), mapped back to the photo."""
    W, H = size
    sh, sw = region.shape
    ys, xs = np.nonzero(region)
    pad = 2
    bx0, by0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
    bx1, by1 = min(sw, xs.max() + 1 + pad), min(sh, ys.max() + 1 + pad)
    x0, y0 = int(np.floor(bx0 / f[0])), int(np.floor(by0 / f[1]))
    x1, y1 = min(W, int(np.ceil(bx1 / f[0]))), min(H, int(np.ceil(by1 / f[1])))
    # one photo → working mapping for every person, so the layers' alphas add up to the mask
    src = (x0 * f[0], y0 * f[1], x1 * f[0], y1 * f[1])
    alpha = np.asarray(Image.fromarray(soft.astype(np.float32), "F").resize((x1 - x0, y1 - y0),
                                                                            Image.Resampling.BILINEAR, box=src))
    alpha = (alpha.clip(0, 1) * 255 + 0.5).astype(np.uint8)
    return Person(box=np.array([x0, y0, x1, y1]), alpha=alpha, face=face, area=int((alpha >= 128).sum()))


class PersonSegmenter:
    """One RGBA layer per person. `max_side`: working size of the mask and the split.

    `instances`: a person instance segmenter (`OnnxYoloSegPeople`, `TransformersInstanceSegmentation`,
    or any callable RGB → objects with a float `alpha` of the size of that image): the layers are then its instances,
    each given the detected face it covers most (`match_faces`; instances without a face are layers
    too), instead of the split of the one-class mask."""

    def __init__(self, analyzer: FaceAnalyzer | None = None, segmenter: SelfieSegmenter | None = None, *,
                 max_side: int = 512, refine: bool = True, threshold: float = 0.5,
                 instances: Callable[[np.ndarray], list] | None = None) -> None:
        self._analyzer, self._segmenter, self.instances = analyzer, segmenter, instances
        self.max_side, self.refine, self.threshold = max_side, refine, threshold

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            self._analyzer = FaceAnalyzer()
        return self._analyzer

    @property
    def segmenter(self) -> SelfieSegmenter:
        if self._segmenter is None:
            self._segmenter = SelfieSegmenter()
        return self._segmenter

    def mask(self, rgb: np.ndarray, faces: list[Face], scale: float) -> np.ndarray:
        """Soft person mask of a working-size RGB array; `faces` in photo px, × `scale` to working px."""
        h, w = rgb.shape[:2]
        prob = self.segmenter(rgb)
        if self.refine:
            for f in faces:
                s = f.size * scale
                cx, cy = f.center * scale
                x0, x1 = int(max(0, cx - 2.2 * s)), int(min(w, cx + 2.2 * s))
                y0, y1 = int(max(0, cy - 1.4 * s)), int(min(h, cy + 3.5 * s))
                if x1 - x0 < 8 or y1 - y0 < 8:
                    continue
                sub = self.segmenter(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
                prob[y0:y1, x0:x1] = np.maximum(prob[y0:y1, x0:x1], sub)
        return prob

    def split(self, photo: Image.Image | str | Path, faces: list[Face] | None = None) -> list[Person]:
        """People in `photo`, back to front (by face size), each with its alpha; faces detected if not given."""
        img = photo if isinstance(photo, Image.Image) else load_photo(photo)
        img = img.convert("RGB")
        if faces is None:
            faces = self.analyzer.detect(img)
        small, f = working_copy(img, self.max_side)
        scale = float(f.mean())
        rgb = np.asarray(small)
        if self.instances is not None:
            return self._from_instances(img, rgb, f, faces)
        prob = self.mask(rgb, faces, scale)
        binary = prob >= self.threshold
        labels = split_instances(binary, faces, scale)
        n = int(labels.max())
        people = []
        for k in range(1, n + 1):
            region = labels == k
            if not region.any():
                continue
            soft = (prob * ndimage.gaussian_filter(region.astype(np.float32), 0.7)).astype(np.float32)
            people.append(_person(soft, region, f, img.size, faces[k - 1] if k - 1 < len(faces) else None))
        people = [p for p in people if p.area > 0]
        people.sort(key=lambda p: p.face.size if p.face is not None else 0.0)
        return people

    def _from_instances(self, img: Image.Image, rgb: np.ndarray, f: np.ndarray, faces: list[Face]) -> list[Person]:
        found = self.instances(rgb)
        alphas = [np.asarray(i.alpha, np.float32) for i in found]
        for a in alphas:
            if a.shape != rgb.shape[:2]:
                raise VisionError(f"instance mask of shape {a.shape} for an image of {rgb.shape[:2]}")
        match = match_faces(alphas, faces, float(f.mean()))
        people = []
        for alpha, j in zip(alphas, match, strict=True):
            region = alpha >= self.threshold
            if region.any():
                people.append(_person(alpha, region, f, img.size, None if j is None else faces[j]))
        people = [p for p in people if p.area > 0]
        people.sort(key=lambda p: p.face.size if p.face is not None else 0.0)
        return people
