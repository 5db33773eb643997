"""Scenes: a scene id fixes background instance and cast; image k rearranges and re-poses them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backgrounds import KINDS, TIMES
from .identity import character
from .person import EXPRESSIONS, FACINGS, POSES
from .spec import BackgroundSpec, ImageSpec, LightSpec, PersonSpec
from .splits import identity_range, scene_split

# typical figure height (fraction of canvas height) for a given number of people
_HEIGHT = {
    1: (0.62, 0.8),
    2: (0.5, 0.66),
    3: (0.44, 0.58),
    4: (0.4, 0.52),
    5: (0.36, 0.48),
    6: (0.33, 0.44),
    7: (0.3, 0.4),
    8: (0.28, 0.38),
}
COUNT_WEIGHTS = {1: 0.16, 2: 0.2, 3: 0.16, 4: 0.14, 5: 0.1, 6: 0.09, 7: 0.07, 8: 0.08}


@dataclass(frozen=True)
class Scene:
    id: int
    background: BackgroundSpec
    identities: tuple[int, ...]
    occlusion: str = "normal"  # or "heavy": people packed into a narrow band


def scene(scene_id: int, n_people: int | None = None, occlusion: str = "normal") -> Scene:
    """Background instance and cast of `scene_id`; identities come from the scene's own split."""
    rng = np.random.default_rng([scene_id, 0x5C])
    kind = KINDS[int(rng.integers(len(KINDS)))]
    time = TIMES[int(rng.choice(3, p=[0.5, 0.25, 0.25]))]
    counts = list(COUNT_WEIGHTS)
    n = (
        n_people
        if n_people is not None
        else counts[int(rng.choice(len(counts), p=list(COUNT_WEIGHTS.values())))]
    )
    lo, hi = identity_range(scene_split(scene_id))
    ids = rng.choice(np.arange(lo, hi, dtype=np.int64), n, replace=False) if hi - lo < 10 * n else None
    if ids is None:
        ids = set()
        while len(ids) < n:
            ids.add(int(rng.integers(lo, hi)))
        ids = sorted(ids, key=lambda _: rng.random())
    bg = BackgroundSpec(kind=kind, time=time, seed=int(rng.integers(0, 2**31)))
    return Scene(scene_id, bg, tuple(int(i) for i in ids), occlusion)


def image_spec(sc: Scene, index: int, width: int = 256, height: int = 256) -> ImageSpec:
    """Image `index` of scene `sc`: positions, z-order, facing, expression, pose and light vary."""
    rng = np.random.default_rng([sc.id, index, 0x1A])
    n = len(sc.identities)
    lo, hi = _HEIGHT.get(n, (0.26, 0.34))
    base = rng.uniform(lo, hi)
    order = rng.permutation(n)
    heavy = sc.occlusion == "heavy"
    span = (0.3 if n <= 3 else 0.5) if heavy else 1.0
    start = rng.uniform(0.0, 1.0 - span)
    people = []
    for slot, k in enumerate(order):
        ident = sc.identities[int(k)]
        depth = rng.uniform(0.0, 1.0)
        h = base * (0.86 + 0.2 * depth)
        half_w = 0.24 * h * height / width  # about half a body width incl. arms
        centre = start + span * (slot + 0.5 + rng.uniform(-0.3, 0.3)) / n
        x = float(np.clip(centre, half_w, 1 - half_w))
        y = float(max(0.8 + 0.18 * depth, h * 1.1 + 0.02))  # nearer people stand lower; heads stay in frame
        poses = POSES if character(ident).has_bag else POSES[:3]
        people.append(
            PersonSpec(
                identity=ident,
                x=round(x, 4),
                y=round(min(y, 0.995), 4),
                height=round(float(h), 4),
                facing=FACINGS[int(rng.integers(3))],
                expression=EXPRESSIONS[int(rng.integers(len(EXPRESSIONS)))],
                pose=poses[int(rng.integers(len(poses)))],
                rotation=int(rng.integers(-4, 5)) if rng.random() < 0.2 else 0,
            )
        )
    people.sort(key=lambda p: p.y)  # further back (higher up) first
    light = LightSpec(
        temperature=round(float(rng.uniform(-0.6, 0.6)), 3),
        brightness=round(float(rng.uniform(0.85, 1.15)), 3),
        direction=round(float(rng.uniform(0, 360)), 1),
        strength=round(float(rng.uniform(0, 0.3)), 3),
    )
    return ImageSpec(
        width=width,
        height=height,
        background=sc.background,
        people=tuple(people),
        light=light,
        scene=sc.id,
        index=index,
        prompt_seed=int(rng.integers(0, 2**31)),
    )
