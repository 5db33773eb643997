"""One-for-All category condition ids (eq. 2) and centre-aligned text positions (CCPA, eq. 3)."""

from __future__ import annotations

from typing import Literal

import torch

from ...canvas.types import Category
from .base import SegmentIds, SegmentSpec, grid_ids

# The paper's ids (face 1, upper 2, lower 3, bag 4), extended to layercraft's other categories.
CONDITION_ID: dict[Category, int] = {
    Category.face: 1,
    Category.upper_garment: 2,
    Category.lower_garment: 3,
    Category.bag: 4,
    Category.person: 5,
    Category.object: 6,
    Category.background: 7,
}


def one_for_all_ids(specs: list[SegmentSpec], grid: tuple[int, int]) -> list[SegmentIds]:
    """u_ref = (1, h + ID·h_ref + row, w + ID·w_ref + col) (eq. 2): each category's reference
    sits on its own diagonal block of the position plane, offset past the (h, w) target grid;
    (h_ref, w_ref) is that reference's own token grid."""
    h, w = grid
    out = []
    for s in specs:
        cid = CONDITION_ID[Category(s.category)]
        hr, wr = s.keep.shape
        out.append(SegmentIds(s.keep, grid_ids(s.keep, 1.0, h + cid * hr, w + cid * wr)))
    return out


def item_text_ids(category: Category, ref_grid: tuple[int, int], grid: tuple[int, int], n_tokens: int,
                  anchor: Literal["paper", "centroid"] = "paper") -> torch.Tensor:
    """(n_tokens, 3) ids for one item descriptor's text tokens (CCPA).

    anchor="paper": eq. 3 as printed, u_item = (1, h + ID·h_ref/2, w + ID·w_ref/2).
    anchor="centroid": the true centre of that reference's block from eq. 2,
    (1, h + ID·h_ref + (h_ref-1)/2, w + ID·w_ref + (w_ref-1)/2). The paper's text says "centroid"
    while its eq. 3 lands elsewhere for ID > 0; both are offered, the printed equation is default.
    """
    h, w = grid
    hr, wr = ref_grid
    cid = CONDITION_ID[Category(category)]
    if anchor == "paper":
        row, col = h + cid * hr / 2, w + cid * wr / 2
    elif anchor == "centroid":
        row, col = h + cid * hr + (hr - 1) / 2, w + cid * wr + (wr - 1) / 2
    else:
        raise ValueError(f"unknown CCPA anchor {anchor!r}")
    return torch.tensor([[1.0, row, col]]).repeat(n_tokens, 1)
