"""Prompt fidelity on the world: attribute accuracy of the output against the case's ground truth.

The world prompt names the background kind and time of day, and each person's expression and pose
(and facing); the attribute classifier reads them back from the output. Accuracy per attribute:

    acc_k = #(predicted_k == truth_k) / #evaluated

Image attributes (background, time) are evaluated once per image; person attributes on persons
matched to a ground-truth subject (missing persons are counted by the identity / layout metrics).
"""

from __future__ import annotations

from .backends import Attributes

IMAGE_KEYS = ("kind", "time")  # the world's meta["background"] keys
PERSON_KEYS = ("expression", "pose", "facing")


def attribute_hits(pred: Attributes, truth_image: dict, truth_people: list[dict], gen_of: list[int | None]) -> dict:
    """Counts {key: [correct, evaluated]} for one image.

    `gen_of[i]` is the index into `pred.people` of ground-truth person i, or None if missing.
    """
    hits: dict[str, list[int]] = {}
    for k in IMAGE_KEYS:
        if k in truth_image:
            hits[k] = [int(pred.image.get(k) == truth_image[k]), 1]
    for k in PERSON_KEYS:
        c = n = 0
        for i, t in enumerate(truth_people):
            d = gen_of[i]
            if d is None or k not in t:
                continue
            c += int(pred.people[d].get(k) == t[k])
            n += 1
        if n:
            hits[k] = [c, n]
    return hits


def accuracy(hits: list[dict]) -> dict:
    """Sum per-image hit counts → {key: accuracy}."""
    tot: dict[str, list[int]] = {}
    for h in hits:
        for k, (c, n) in h.items():
            t = tot.setdefault(k, [0, 0])
            t[0] += c
            t[1] += n
    return {k: c / n for k, (c, n) in tot.items() if n}
