"""Perception quality measures used by the tests and `scripts/bench_vision.py`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 0.0


def split_scores(truth: Sequence[np.ndarray], alphas: Sequence[np.ndarray]) -> tuple[list[float], float]:
    """How well predicted person layers match true visible person masks.

    Returns, per true person, the best IoU of any predicted layer (alpha ≥ 128), and the split
    accuracy: over pixels that are a person both in the truth and in the prediction, the fraction
    given to the right person (each predicted layer stands for the true person it overlaps most).
    The IoU also counts mask errors; the split accuracy counts only the instance split."""
    masks = [np.asarray(a) >= 128 for a in alphas]
    ious = [max((mask_iou(t, m) for m in masks), default=0.0) for t in truth]
    if not masks or not truth:
        return ious, 0.0
    true_label = np.zeros(np.asarray(truth[0]).shape, np.int32)
    for k, t in enumerate(truth):
        true_label[np.asarray(t, bool)] = k + 1
    stack = np.stack([np.asarray(a, np.int32) for a in alphas])
    pred = np.where(stack.max(0) >= 128, stack.argmax(0) + 1, 0)
    owner = np.array([0] + [int(np.argmax([mask_iou(t, m) for t in truth])) + 1 for m in masks])
    both = (true_label > 0) & (pred > 0)
    if not both.any():
        return ious, 0.0
    return ious, float((owner[pred[both]] == true_label[both]).mean())


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve (probability a positive pair scores above a negative one; ties count half)."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(positive, bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("roc_auc needs positive and negative examples")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    allv = np.concatenate([pos, neg])[order]
    ranks = np.empty(len(allv))
    i = 0
    while i < len(allv):  # average ranks over ties
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = np.empty(len(allv))
    r[order] = ranks
    return float((r[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))
