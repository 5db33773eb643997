"""Position-aligned reference for the Flux retouch.

Flux image attention carries rotary positions (RoPE), so a target query at pixel p prefers reference keys near p:
swapping in the K/V of a reference whose subject sits elsewhere (a centred portrait) copies the subject at the
reference's own place, pulling it away from the layout. SD UNets match features by content, which is why the paper
needs no such step. Here the reference subject is moved into the layout's subject box before inversion — scaled to
the box height, aspect kept, centred on the box, pasted over the layout image — so the late swap finds the subject's
keys where the target's subject is. Opt-in (`align_reference=True`): on the embedded model it measured no effect on
spread or identity (docs/findings/layout-retouch.md), so the default is the paper's recipe as is.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), exclusive ends, of a bool mask (H, W); None when it is empty."""
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def aligned_reference(reference: Image.Image, reference_mask: np.ndarray, layout: Image.Image,
                      layout_mask: np.ndarray) -> Image.Image | None:
    """The reference's subject (`reference_mask`, at the reference's size) moved into the subject box of
    `layout_mask` (at the layout's size) and pasted over `layout` → RGB image at the layout's size; None when
    either mask is empty (nothing to align)."""
    if reference_mask.shape != (reference.height, reference.width):
        raise ValueError(f"reference mask {reference_mask.shape} does not match the reference image "
                         f"{(reference.height, reference.width)}")
    if layout_mask.shape != (layout.height, layout.width):
        raise ValueError(f"layout mask {layout_mask.shape} does not match the layout image "
                         f"{(layout.height, layout.width)}")
    src, dst = mask_box(reference_mask), mask_box(layout_mask)
    if src is None or dst is None:
        return None
    crop = reference.convert("RGB").crop(src)
    alpha = Image.fromarray(reference_mask[src[1]:src[3], src[0]:src[2]].astype(np.uint8) * 255)
    scale = (dst[3] - dst[1]) / (src[3] - src[1])
    w, h = max(1, round(crop.width * scale)), dst[3] - dst[1]
    x0 = round((dst[0] + dst[2]) / 2 - w / 2)
    out = layout.convert("RGB").copy()
    out.paste(crop.resize((w, h), Image.BICUBIC), (x0, dst[1]), alpha.resize((w, h), Image.NEAREST))
    return out
