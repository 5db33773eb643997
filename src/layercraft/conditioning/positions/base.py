"""What a position-id function sees and returns.

A scheme gets one `SegmentSpec` per condition segment (a layer, or the collage) and the target token
grid (h, w), and returns, per segment, the keep mask it actually uses (a scheme may drop tokens,
e.g. LayerComposer's overlapping locked layers) and the ids (n_i, 3) of the kept tokens, in
row-major order. Ids follow FLUX's convention: (index, row, col); the noisy latent is (0, row, col)
and plain text tokens are (0, 0, 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...canvas.types import Category


@dataclass
class SegmentSpec:
    keep: torch.Tensor  # (h_i, w_i) bool, after pruning
    locked: bool = False
    category: Category = Category.person
    placed: bool = True  # False: a category reference at its own grid (One-for-All)


@dataclass
class SegmentIds:
    keep: torch.Tensor  # (h_i, w_i) bool, what the scheme keeps
    ids: torch.Tensor  # (n_i, 3) float, one row per kept token, row-major


PositionIds = Callable[[list[SegmentSpec], tuple[int, int]], list[SegmentIds]]


def grid_ids(keep: torch.Tensor, index: float, row_offset: float = 0.0, col_offset: float = 0.0) -> torch.Tensor:
    """(n, 3) ids [index, row + row_offset, col + col_offset] for the True cells of `keep`, row-major."""
    rc = torch.nonzero(keep, as_tuple=False).float()  # (n, 2)
    idx = torch.full((rc.shape[0], 1), float(index))
    return torch.cat([idx, rc[:, :1] + row_offset, rc[:, 1:] + col_offset], dim=1)


def noisy_ids(grid: tuple[int, int]) -> torch.Tensor:
    """(h·w, 3) ids of the noisy latent tokens: [0, row, col]."""
    return grid_ids(torch.ones(grid, dtype=torch.bool), 0.0)


def text_ids(n_tokens: int) -> torch.Tensor:
    """(T, 3) zeros: FLUX gives every text token the same, neutral position."""
    return torch.zeros(n_tokens, 3)


def require_placed(specs: list[SegmentSpec], grid: tuple[int, int]) -> None:
    for i, s in enumerate(specs):
        if not s.placed:
            raise ValueError(f"segment {i} is an unplaced category reference; "
                             "this scheme needs layers placed on the canvas")
        if tuple(s.keep.shape) != tuple(grid):
            raise ValueError(f"segment {i} grid {tuple(s.keep.shape)} != target grid {grid}")
