"""Hungarian matching of generated detections to ground-truth subjects.

Follows MultiID-Bench / AnyPhoto (appendix 0.A.4): generated faces are assigned one-to-one to
ground-truth identities by the Hungarian algorithm (scipy `linear_sum_assignment`), maximising
total similarity; pairs below a threshold are not matched. An unmatched ground-truth subject is a
*missing detection*: callers count and report it, never drop it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) and (M, 4) boxes x0, y0, x1, y1 → (N, M) intersection over union."""
    a = np.asarray(a, np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, np.float64).reshape(-1, 4)[None]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = lambda x: np.clip(x[..., 2] - x[..., 0], 0, None) * np.clip(x[..., 3] - x[..., 1], 0, None)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass
class Matching:
    pairs: list[tuple[int, int]]  # (ground-truth index, generated index), sorted by ground truth
    missing: list[int]  # ground-truth indices with no generated match
    extra: list[int]  # generated indices matched to nothing

    def gen_of(self, n_gt: int) -> list[int | None]:
        """For each ground-truth index, its generated index or None."""
        out: list[int | None] = [None] * n_gt
        for g, d in self.pairs:
            out[g] = d
        return out


def hungarian(score: np.ndarray, threshold: float = -np.inf) -> Matching:
    """One-to-one assignment maximising the sum of `score` (N ground truth × M generated).

    Pairs with score < `threshold` are dropped back to missing / extra.
    """
    score = np.asarray(score, np.float64)
    n, m = score.shape
    rows, cols = linear_sum_assignment(score, maximize=True) if n and m else (np.zeros(0, int), np.zeros(0, int))
    pairs = sorted((int(r), int(c)) for r, c in zip(rows, cols, strict=True) if score[r, c] >= threshold)
    got_gt, got_gen = {p[0] for p in pairs}, {p[1] for p in pairs}
    return Matching(pairs, [i for i in range(n) if i not in got_gt], [j for j in range(m) if j not in got_gen])


def match_boxes(gt: np.ndarray, gen: np.ndarray, min_iou: float = 0.1) -> Matching:
    """Match by box overlap (layout-grounded: the subject meant to stand in box i)."""
    return hungarian(iou_matrix(gt, gen), threshold=max(min_iou, 1e-9))


def match_embeddings(gt: np.ndarray, gen: np.ndarray, min_sim: float = -1.0) -> Matching:
    """Match by cosine similarity of unit-norm embeddings (N, D) × (M, D) (MultiID-Bench)."""
    return hungarian(np.asarray(gt) @ np.asarray(gen).T, threshold=min_sim)
