"""Disjoint train / val / test ranges of identity ids and scene ids, and the held-out guard."""

from __future__ import annotations

from collections.abc import Iterable

SPLITS = ("train", "val", "test")
IDENTITY_RANGES = {"train": (0, 8_000_000), "val": (8_000_000, 9_000_000), "test": (9_000_000, 10_000_000)}
SCENE_RANGES = {"train": (0, 80_000_000), "val": (80_000_000, 90_000_000), "test": (90_000_000, 100_000_000)}


class HeldOutError(ValueError):
    """Something asked for an id outside the split it is allowed to use."""


def _split_of(value: int, ranges: dict[str, tuple[int, int]], what: str) -> str:
    for name, (lo, hi) in ranges.items():
        if lo <= value < hi:
            return name
    raise ValueError(f"{what} {value} lies outside every split range")


def identity_split(identity: int) -> str:
    return _split_of(identity, IDENTITY_RANGES, "identity id")


def scene_split(scene: int) -> str:
    return _split_of(scene, SCENE_RANGES, "scene id")


def check_split(split: str, scenes: Iterable[int] = (), identities: Iterable[int] = ()) -> None:
    """Raise HeldOutError if any scene or identity id is not in `split` (e.g. training touching test)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    bad = [f"scene {s} ({scene_split(s)})" for s in scenes if scene_split(s) != split]
    bad += [f"identity {i} ({identity_split(i)})" for i in identities if identity_split(i) != split]
    if bad:
        raise HeldOutError(
            f"split {split!r} may not use: " + ", ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
        )


def scene_range(split: str) -> tuple[int, int]:
    return SCENE_RANGES[split]


def identity_range(split: str) -> tuple[int, int]:
    return IDENTITY_RANGES[split]
