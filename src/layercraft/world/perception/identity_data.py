"""Identity crops: each identity rendered in several images under varied expression, arm pose,
facing, light, scale, rotation, background and company; only occlusion-free people are kept.

Round r shuffles the identity list and deals it into images of 1–3 people standing apart, so every
identity appears once per round next to different people. Everything is a pure function of
(split, seed, count, rounds); ids come only from `split`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..backgrounds import KINDS, TIMES
from ..identity import character
from ..person import EXPRESSIONS, FACINGS, POSES
from ..scene import render
from ..spec import BackgroundSpec, ImageSpec, LightSpec, PersonSpec
from ..splits import check_split, identity_range
from .crops import PERSON_CROP, crops

MIN_VISIBLE = 0.9  # fraction of a person's opaque pixels that must be visible to count as occlusion-free


def identities(split: str, count: int, seed: int = 0) -> list[int]:
    """`count` distinct identity ids of `split`, drawn deterministically."""
    lo, hi = identity_range(split)
    rng = np.random.default_rng([seed, lo, 0x1D])
    ids = sorted({int(i) for i in rng.integers(lo, hi, size=count * 2)})[:count]
    ids = [int(i) for i in rng.permutation(ids)]
    check_split(split, identities=ids)
    return ids


def group_spec(group: list[int], rng: np.random.Generator, size: int = 128) -> ImageSpec:
    """One image of the people in `group` (1–3 ids), spaced apart, each with random attributes."""
    n = len(group)
    height = rng.uniform(*{1: (0.3, 0.85), 2: (0.3, 0.66), 3: (0.28, 0.5)}[n])
    xs = (np.arange(n) + 0.5 + rng.uniform(-0.12, 0.12, n)) / n
    people = []
    for ident, x in zip(group, xs, strict=True):
        h = height * rng.uniform(0.9, 1.1)
        poses = POSES if character(ident).has_bag else POSES[:3]
        half_w = 0.3 * h
        people.append(
            PersonSpec(
                identity=ident,
                x=round(float(np.clip(x, half_w, 1 - half_w)), 4),
                y=round(float(min(0.995, max(rng.uniform(0.8, 0.99), h * 1.1 + 0.02))), 4),
                height=round(float(h), 4),
                facing=FACINGS[int(rng.integers(3))],
                expression=EXPRESSIONS[int(rng.integers(len(EXPRESSIONS)))],
                pose=poses[int(rng.integers(len(poses)))],
                rotation=int(rng.integers(-6, 7)) if rng.random() < 0.3 else 0,
            )
        )
    bg = BackgroundSpec(
        kind=KINDS[int(rng.integers(len(KINDS)))],
        time=TIMES[int(rng.choice(3, p=[0.5, 0.25, 0.25]))],
        seed=int(rng.integers(0, 2**31)),
    )
    light = LightSpec(
        temperature=round(float(rng.uniform(-0.7, 0.7)), 3),
        brightness=round(float(rng.uniform(0.8, 1.2)), 3),
        direction=round(float(rng.uniform(0, 360)), 1),
        strength=round(float(rng.uniform(0, 0.35)), 3),
    )
    return ImageSpec(width=size, height=size, background=bg, people=tuple(people), light=light)


def visible_fraction(sample) -> np.ndarray:
    """(N,) fraction of each person's opaque (alpha ≥ 128) pixels that are visible."""
    opaque = (sample.layers[..., 3] >= 128).sum((1, 2))
    return sample.visible.sum((1, 2)) / np.maximum(opaque, 1)


def identity_crops(
    split: str, count: int, rounds: int, seed: int = 0, size: int = 128, out_hw=PERSON_CROP
) -> tuple[torch.Tensor, torch.Tensor]:
    """→ crops (M, 3, h, w) uint8 and identity ids (M,) int64 for `count` ids × up to `rounds` images."""
    ids = identities(split, count, seed)
    rng = np.random.default_rng([seed, count, rounds, 0x1C])
    images, labels = [], []
    for _ in range(rounds):
        order = [ids[int(i)] for i in rng.permutation(len(ids))]
        k = 0
        while k < len(order):
            n = int(rng.choice(3, p=[0.4, 0.35, 0.25])) + 1
            group = order[k : k + n]
            k += n
            s = render(group_spec(group, rng, size))
            keep = visible_fraction(s) >= MIN_VISIBLE
            if keep.any():
                images.append((crops(s.rgb, s.person_boxes[keep], out_hw) * 255).round().to(torch.uint8))
                labels += [p["identity"] for p, kp in zip(s.meta["people"], keep, strict=True) if kp]
    return torch.cat(images), torch.tensor(labels, dtype=torch.int64)
