"""Benchmark suites: deterministic lists of held-out (test split) scenes and targets, as JSON."""

from __future__ import annotations

import numpy as np

from .layout import image_spec, scene
from .splits import check_split, scene_range

# name → (people per scene, occlusion, number of locked people or None)
SUITES = {
    "1P": (1, "normal", None),
    "2P": (2, "normal", None),
    "4P": (4, "normal", None),
    "6P": (6, "normal", None),
    "8P": (8, "normal", None),
    "occlusion": (5, "heavy", None),
    "lock": (3, "normal", 1),
}


def build_suite(name: str, count: int = 24, size: int = 256, split: str = "test") -> dict:
    """`count` entries, each: scene, target image, source image and the target's full ImageSpec."""
    n, occlusion, n_locked = SUITES[name]
    lo, _ = scene_range(split)
    base = lo + 100_000 * (list(SUITES).index(name) + 1)
    rng = np.random.default_rng([list(SUITES).index(name), 0xBE])
    entries = []
    for j in range(count):
        sid = base + j
        sc = scene(sid, n_people=n, occlusion=occlusion)
        check_split(split, scenes=[sid], identities=sc.identities)
        entry = {
            "scene": sid,
            "n_people": n,
            "occlusion": occlusion,
            "target": 0,
            "source": 1,
            "spec": image_spec(sc, 0, size, size).model_dump(mode="json"),
        }
        if n_locked is not None:
            entry["locked"] = sorted(int(v) for v in rng.choice(n, n_locked, replace=False))
        entries.append(entry)
    return {"name": name, "split": split, "size": size, "entries": entries}
