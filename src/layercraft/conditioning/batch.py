"""The ConditionBatch: the one contract between conditioning, pipelines and training.

Two steps, so that the model-free part (which tokens, which ids) can be planned and counted
without a VAE:

1. `plan_segments(canvas, scheme, grid)` → one `SegmentPlan` per condition segment: the pixels to
   encode and the keep mask on the token grid (pruning applied).
2. `assemble(plans, token_grids, scheme, grid)` → `ConditionSample`: the encoded, packed token
   grids pruned and given position ids by the scheme.

`ConditionBatch.collate` pads samples with different token counts into one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from ..canvas.raster import composite, rasterize
from ..canvas.types import Canvas, Category
from .masks import FULL, MaskSpec, joint_attention_mask, pad_masks
from .positions import CONDITION_ID, SegmentSpec
from .pruning import Rule, keep_mask
from .schemes import Scheme, get_scheme


@dataclass
class SegmentPlan:
    layer_id: str
    rgba: np.ndarray  # (H_i, W_i, 4) uint8: pixels to encode (canvas-aligned, or a reference resized)
    spec: SegmentSpec  # keep mask on the segment's token grid + flags
    descriptor: str | None = None


def _alpha(rgba: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgba[..., 3].astype(np.float32) / 255.0)


def plan_segments(canvas: Canvas, scheme: str | Scheme, grid: tuple[int, int], *, prune: bool = True,
                  rule: Rule = "nearest", tau: float = 0.0, ref_grid: tuple[int, int] | None = None,
                  token_px: int | None = None) -> list[SegmentPlan]:
    """Which pixels become which condition segment under `scheme`, and which tokens survive.

    `grid` is the target token grid (h, w); `token_px` the pixels per token side (default
    canvas.width // w). One-for-All references are resized to `ref_grid` tokens (default `grid`).
    """
    sch = get_scheme(scheme)
    h, w = grid
    token_px = token_px or canvas.width // w
    if (h * token_px, w * token_px) != (canvas.height, canvas.width):
        raise ValueError(f"canvas {canvas.width}×{canvas.height} does not match token grid {w}×{h} × {token_px}px")

    def keep_of(rgba: np.ndarray, g: tuple[int, int]) -> torch.Tensor:
        if not prune:
            return torch.ones(g, dtype=torch.bool)
        return keep_mask(_alpha(rgba), g, rule, tau)

    if sch.segments == "collage":
        rgba = np.asarray(composite(canvas).convert("RGBA"))
        return [SegmentPlan("collage", rgba, SegmentSpec(torch.ones(grid, dtype=torch.bool)))]
    plans = []
    for r in rasterize(canvas):
        if sch.segments == "references":
            rg = ref_grid or grid
            img = Image.fromarray(r.rgba, "RGBA").resize((rg[1] * token_px, rg[0] * token_px), Image.Resampling.BICUBIC)
            rgba = np.asarray(img)
            spec = SegmentSpec(keep_of(rgba, rg), r.locked, r.category, placed=False)
        else:
            if not r.placed:
                raise ValueError(f"scheme {sch.name!r}: layer {r.id!r} is an unplaced category reference")
            rgba = r.rgba
            spec = SegmentSpec(keep_of(rgba, grid), r.locked, r.category, placed=True)
        plans.append(SegmentPlan(r.id, rgba, spec, r.descriptor))
    return plans


@dataclass
class ConditionSample:
    tokens: torch.Tensor  # (M, D) condition tokens after pruning
    ids: torch.Tensor  # (M, 3) position ids
    segment: torch.Tensor  # (M,) long, 0..k-1
    lengths: list[int]  # tokens per segment, k entries
    locked: torch.Tensor  # (k,) bool
    category: torch.Tensor  # (k,) long, One-for-All condition id of each segment's category
    layer_ids: list[str] = field(default_factory=list)


def assemble(plans: list[SegmentPlan], token_grids: list[torch.Tensor], scheme: str | Scheme,
             grid: tuple[int, int]) -> ConditionSample:
    """token_grids[i]: (h_i·w_i, D) packed tokens of plan i (row-major) → pruned tokens with ids."""
    if len(plans) != len(token_grids):
        raise ValueError(f"got {len(plans)} segment plans but {len(token_grids)} token grids")
    sch = get_scheme(scheme)
    try:
        segs = sch.ids([p.spec for p in plans], grid)
    except ValueError as err:
        raise ValueError(f"scheme {sch.name!r}: {err}") from None
    toks, ids, seg, lengths = [], [], [], []
    for i, (s, t) in enumerate(zip(segs, token_grids, strict=True)):
        if t.shape[0] != s.keep.numel():
            raise ValueError(f"segment {i}: {t.shape[0]} tokens for a {tuple(s.keep.shape)} grid")
        toks.append(t[s.keep.reshape(-1)])
        ids.append(s.ids)
        seg.append(torch.full((s.ids.shape[0],), i, dtype=torch.long))
        lengths.append(int(s.ids.shape[0]))
    d = token_grids[0].shape[-1] if token_grids else 0
    return ConditionSample(
        tokens=torch.cat(toks) if toks else torch.zeros(0, d),
        ids=torch.cat(ids) if ids else torch.zeros(0, 3),
        segment=torch.cat(seg) if seg else torch.zeros(0, dtype=torch.long),
        lengths=lengths,
        locked=torch.tensor([p.spec.locked for p in plans], dtype=torch.bool),
        category=torch.tensor([CONDITION_ID[Category(p.spec.category)] for p in plans], dtype=torch.long),
        layer_ids=[p.layer_id for p in plans],
    )


@dataclass
class ConditionBatch:
    tokens: torch.Tensor  # (B, M, D), zero-padded
    ids: torch.Tensor  # (B, M, 3)
    segment: torch.Tensor  # (B, M) long, -1 on padding
    valid: torch.Tensor  # (B, M) bool
    lengths: list[list[int]]  # per sample, tokens per segment
    locked: list[torch.Tensor]  # per sample (k_b,) bool
    category: list[torch.Tensor]  # per sample (k_b,) long

    @classmethod
    def collate(cls, samples: list[ConditionSample]) -> ConditionBatch:
        b = len(samples)
        m = max((s.tokens.shape[0] for s in samples), default=0)
        d = max(s.tokens.shape[-1] for s in samples)  # an empty canvas contributes (0, 0) tokens
        tokens = torch.zeros(b, m, d, dtype=samples[0].tokens.dtype)
        ids = torch.zeros(b, m, 3)
        segment = torch.full((b, m), -1, dtype=torch.long)
        valid = torch.zeros(b, m, dtype=torch.bool)
        for i, s in enumerate(samples):
            n = s.tokens.shape[0]
            if n:  # an empty canvas (condition dropout) has nothing to copy
                tokens[i, :n], ids[i, :n], segment[i, :n], valid[i, :n] = s.tokens, s.ids, s.segment, True
        return cls(tokens, ids, segment, valid, [s.lengths for s in samples],
                   [s.locked for s in samples], [s.category for s in samples])

    def attention_mask(self, n_text: int, n_noisy: int, spec: MaskSpec = FULL) -> torch.Tensor:
        """(B, 1, S, S) bool over [text; noisy; conditions padded to M]; padding masked out."""
        s = n_text + n_noisy + self.tokens.shape[1]
        return pad_masks([joint_attention_mask(n_text, n_noisy, ln, spec) for ln in self.lengths], s)
