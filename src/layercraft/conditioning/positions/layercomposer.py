"""LayerComposer positional embedding with locking (eq. 1)."""

from __future__ import annotations

import torch

from .base import SegmentIds, SegmentSpec, grid_ids, require_placed


def layercomposer_ids(specs: list[SegmentSpec], grid: tuple[int, int]) -> list[SegmentIds]:
    """pos_i = [0, x, y] if b_i = 1 (locked), [j, x, y] if b_i = 0, j = 1..#unlocked (eq. 1).

    Locked layers share index 0 with each other and with the noisy latent, so two locked tokens at
    the same cell would carry identical ids. Where locked layers overlap, only the front-most
    (last in z-order) keeps its token; unlocked layers are never deduplicated (their j differs).
    """
    require_placed(specs, grid)
    taken = torch.zeros(grid, dtype=torch.bool)  # cells already claimed by a locked layer in front
    keeps: list[torch.Tensor] = [s.keep for s in specs]
    for i in range(len(specs) - 1, -1, -1):
        if specs[i].locked:
            keeps[i] = specs[i].keep & ~taken
            taken |= keeps[i]
    out, j = [], 0
    for s, keep in zip(specs, keeps, strict=True):
        if s.locked:
            out.append(SegmentIds(keep, grid_ids(keep, 0.0)))
        else:
            j += 1
            out.append(SegmentIds(keep, grid_ids(keep, float(j))))
    return out
