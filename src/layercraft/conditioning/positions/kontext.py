"""FLUX.1 Kontext reference ids: the single reference image (here the collage)."""

from __future__ import annotations

from .base import SegmentIds, SegmentSpec, grid_ids, require_placed


def kontext_ids(specs: list[SegmentSpec], grid: tuple[int, int]) -> list[SegmentIds]:
    """One reference at [1, x, y], exactly as Kontext places its context image."""
    if len(specs) != 1:
        raise ValueError(f"the collage scheme takes exactly one segment (the collage), got {len(specs)}")
    require_placed(specs, grid)
    return [SegmentIds(specs[0].keep, grid_ids(specs[0].keep, 1.0))]
