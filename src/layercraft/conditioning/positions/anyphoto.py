"""AnyPhoto location-aligned ids (sec. 3.2)."""

from __future__ import annotations

from .base import SegmentIds, SegmentSpec, grid_ids, require_placed

LOCATION_INDEX = 1.0


def anyphoto_ids(specs: list[SegmentSpec], grid: tuple[int, int]) -> list[SegmentIds]:
    """Every identity token gets [1, x, y]: one token-type index for all location conditions and
    the spatial coordinates of the cell it covers, aligned with the noisy latent's [0, x, y].
    Overlapping identities may share ids; identity-isolated attention keeps them apart."""
    require_placed(specs, grid)
    return [SegmentIds(s.keep, grid_ids(s.keep, LOCATION_INDEX)) for s in specs]
