"""Identities, scenes, reference matching and duplicates over a whole prepared dataset.

- `IdentityClusters`: online centroid clustering of face embeddings at the face backend's
  calibrated same-person threshold (dlib: similarity 1 − Euclidean distance ≥ 0.4; cosine models:
  their own threshold). A face joins the most similar centroid at or above the threshold, else it
  starts a new identity; the faces of one image always go to different identities (greedy by
  similarity). Centroids and every face's label persist in the dataset, so identity numbers stay
  the same when a preparation is resumed, extended, or an identity is excluded. Memory is
  O(identities · D) (the faces' embeddings are read from a memory-mapped float16 file, `prepare.py`),
  time O(faces × identities · D); docs/data.md gives the figures.
- `scenes`: connected components of the image–identity graph (images that share an identity).
- `match_references`: AnyPhoto's reference matching — score = w · IoU(face boxes) + (1 − w) ·
  similarity, pairs under the threshold left out, greedy one-to-one assignment by score.
- `cap_scene_identities`: the photos to drop so that no scene shows more than K identities.
- `holdout_scenes`: a deterministic held-out split by scene (so no identity is in both splits).
- `Duplicates`: 64-bit difference hashes; a near-copy (Hamming distance ≤ 3) of an earlier image
  shares at least one of four 16-bit bands with it, so only images in the same band bucket are compared.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np


def similarity_matrix(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    a, b = np.asarray(a, np.float32).reshape(len(a), -1), np.asarray(b, np.float32).reshape(len(b), -1)
    if metric == "euclidean":
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
        return 1.0 - np.sqrt(np.maximum(d2, 0))
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return an @ bn.T


def greedy_assign(score: np.ndarray, minimum: float) -> list[tuple[int, int]]:
    """One-to-one (row, col) pairs in order of decreasing score, each pair's score ≥ `minimum`."""
    pairs = []
    if score.size == 0:
        return pairs
    rows, cols = np.nonzero(score >= minimum)  # only these can pair: sort them, not the whole matrix
    order = np.lexsort((cols, rows, -score[rows, cols]))  # by score, ties in row-major order
    used_r, used_c = set(), set()
    for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if r in used_r or c in used_c:
            continue
        pairs.append((r, c))
        used_r.add(r)
        used_c.add(c)
    return pairs


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def match_references(ref_emb: np.ndarray, faces_emb: np.ndarray, metric: str, threshold: float, *,
                     ref_boxes: np.ndarray | None = None, face_boxes: np.ndarray | None = None,
                     iou_weight: float = 0.5) -> list[tuple[int, int]]:
    """AnyPhoto's reference ↔ face matching: (reference, face) pairs, greedy by IoU + similarity.

    Without boxes for the references (reference photos, not frames of the same shot) the score is
    the embedding similarity alone. A pair needs similarity ≥ `threshold` whatever its IoU."""
    if len(ref_emb) == 0 or len(faces_emb) == 0:
        return []
    sim = similarity_matrix(ref_emb, faces_emb, metric)
    score = sim.copy()
    if ref_boxes is not None and face_boxes is not None:
        score = iou_weight * box_iou(ref_boxes, face_boxes) + (1 - iou_weight) * sim
    score[sim < threshold] = -np.inf
    return [(r, c) for r, c in greedy_assign(score, -1e30)]


class IdentityClusters:
    """Online centroid clustering (see the module docstring). Memory: per identity its sum (float64) and its
    centroid as compared (float32, with its squared norm), in arrays that double when full; per image one
    matrix-vector product against the centroids."""

    def __init__(self, threshold: float, metric: str, dim: int) -> None:
        self.threshold, self.metric, self.dim = float(threshold), metric, dim
        self._reset(np.zeros((0, dim), np.float64), np.zeros(0, np.int64))

    def _reset(self, sums: np.ndarray, counts: np.ndarray) -> None:
        self.n = len(counts)
        cap = max(16, self.n)
        self._sums = np.zeros((cap, self.dim), np.float64)
        self._counts = np.zeros(cap, np.int64)
        self._cent = np.zeros((cap, self.dim), np.float32)  # what faces are compared with
        self._sq = np.zeros(cap, np.float32)
        self._sums[:self.n], self._counts[:self.n] = sums, counts
        for c in range(self.n):
            self._refresh(c)

    @property
    def sums(self) -> np.ndarray:
        return self._sums[:self.n]

    @property
    def counts(self) -> np.ndarray:
        return self._counts[:self.n]

    @property
    def centroids(self) -> np.ndarray:
        return (self.sums / np.maximum(self.counts, 1)[:, None]).astype(np.float32)

    def _refresh(self, c: int) -> None:
        cent = (self._sums[c] / max(int(self._counts[c]), 1)).astype(np.float32)
        if self.metric != "euclidean":
            cent = cent / max(float(np.linalg.norm(cent)), 1e-12)
        self._cent[c], self._sq[c] = cent, float((cent * cent).sum())

    def _similarity(self, faces: np.ndarray) -> np.ndarray:
        cent = self._cent[:self.n]
        if self.metric == "euclidean":  # as `similarity_matrix`, with the centroids' squared norms kept
            d2 = (faces * faces).sum(1)[:, None] + self._sq[:self.n][None] - 2 * faces @ cent.T
            return 1.0 - np.sqrt(np.maximum(d2, 0))
        fn = faces / np.maximum(np.linalg.norm(faces, axis=1, keepdims=True), 1e-12)
        return fn @ cent.T

    def _new(self) -> int:
        if self.n == len(self._counts):
            grow = len(self._counts)
            self._sums = np.concatenate([self._sums, np.zeros((grow, self.dim))])
            self._counts = np.concatenate([self._counts, np.zeros(grow, np.int64)])
            self._cent = np.concatenate([self._cent, np.zeros((grow, self.dim), np.float32)])
            self._sq = np.concatenate([self._sq, np.zeros(grow, np.float32)])
        self.n += 1
        return self.n - 1

    def assign(self, faces: np.ndarray) -> list[int]:
        """Labels for the faces of one image (distinct), updating the centroids."""
        faces = np.asarray(faces, np.float32).reshape(len(faces), -1)
        labels = [-1] * len(faces)
        if self.n and len(faces):
            for r, c in greedy_assign(self._similarity(faces), self.threshold):
                labels[r] = c
        for r, e in enumerate(faces):
            if labels[r] < 0:
                labels[r] = self._new()
            self._sums[labels[r]] += e
            self._counts[labels[r]] += 1
            self._refresh(labels[r])
        return labels

    def state(self) -> dict[str, np.ndarray]:
        return {"sums": self.sums.copy(), "counts": self.counts.copy()}

    def load(self, state) -> None:
        self._reset(np.asarray(state["sums"], np.float64).reshape(-1, self.dim), np.asarray(state["counts"], np.int64))


def scenes(image_identities: list[list[int]]) -> list[list[int]]:
    """Connected components of images linked by shared identities (labels ≥ 0), each sorted, in order
    of their first image."""
    parent = list(range(len(image_identities)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict[int, int] = {}
    for img, ids in enumerate(image_identities):
        for ident in ids:
            if ident < 0:
                continue
            if ident in first:
                ra, rb = find(first[ident]), find(img)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            else:
                first[ident] = img
    groups: dict[int, list[int]] = defaultdict(list)
    for img in range(len(image_identities)):
        groups[find(img)].append(img)
    return sorted(groups.values(), key=lambda g: g[0])


def cap_scene_identities(image_identities: list[list[int]], k: int) -> dict[int, int]:
    """Images to drop so that every scene (`scenes`) has at most `k` identities: image → the number of
    identities of the scene it was dropped from.

    In a scene over the limit, the image showing the most identities (the later one on a tie) is dropped and the
    rest of the scene is split again into scenes; repeated until every scene is within the limit. Images of one
    identity are never dropped (a scene of one-identity images has one identity), so what goes is the group
    photos that join people into too large a scene, the largest groups first."""
    dropped: dict[int, int] = {}
    distinct = [{i for i in ids if i >= 0} for ids in image_identities]
    stack = scenes(image_identities)
    while stack:
        group = stack.pop()
        ids = set().union(*(distinct[g] for g in group))
        if len(ids) <= k:
            continue
        worst = max(group, key=lambda g: (len(distinct[g]), g))
        dropped[worst] = len(ids)
        rest = [g for g in group if g != worst]
        stack.extend([rest[j] for j in sub] for sub in scenes([image_identities[g] for g in rest]))
    return dropped


def scene_hash(key: str) -> float:
    """A stable number in [0, 1) for a scene key (the first 64 bits of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2.0 ** 64


def holdout_scenes(scene_keys: list[str], fraction: float) -> list[bool]:
    """Which scenes are held out: those whose `scene_hash` is under `fraction`. A scene's key names what
    does not change when the dataset is resumed or an identity excluded (its smallest identity number,
    or for a scene without identities its item number), so a scene keeps its split.

    With `fraction > 0` and two scenes or more, each split gets at least one scene: if the hash holds
    out none, the scene with the smallest hash is held out; if it holds out all, the largest is kept."""
    u = [scene_hash(k) for k in scene_keys]
    out = [x < fraction for x in u]
    if fraction > 0 and len(u) >= 2:
        if not any(out):
            out[min(range(len(u)), key=u.__getitem__)] = True
        elif all(out):
            out[max(range(len(u)), key=u.__getitem__)] = False
    return out


class Duplicates:
    def __init__(self, distance: int = 3) -> None:
        if not 0 <= distance <= 3:
            raise ValueError("duplicate distance must be 0-3 (band index exactness)")
        self.distance = distance
        self.buckets: list[dict[int, list[tuple[int, int]]]] = [defaultdict(list) for _ in range(4)]

    def check(self, key: int, h: int) -> int | None:
        """The key of an earlier near-copy of hash `h`, or None (then `h` is remembered under `key`)."""
        for band in range(4):
            for other_key, other in self.buckets[band].get((h >> (16 * band)) & 0xFFFF, ()):
                if (h ^ other).bit_count() <= self.distance:
                    return other_key
        for band in range(4):
            self.buckets[band][(h >> (16 * band)) & 0xFFFF].append((key, h))
        return None
