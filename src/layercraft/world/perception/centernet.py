"""CenterNet-style targets, loss and decoding (Zhou et al., 2019) for the detector.

Heads at output stride `STRIDE`: per-class centre heatmap (C, h, w), box size as log(w/stride),
log(h/stride) (2, h, w) and sub-cell centre offset (2, h, w).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

STRIDE = 4


def targets(boxes, labels, counts, classes: int, hw: tuple[int, int]) -> dict:
    """Targets for one image: boxes (M, 4) px, labels (M,), counts (M,) bool (False → ignored region).

    → heat (C, h, w) gaussian peaks; weight (C, h, w) 0 around ignored objects; size/offset (2, h, w)
    and reg_mask (h, w) at the centre cells of counted objects.
    """
    h, w = hw
    heat = torch.zeros(classes, h, w)
    weight = torch.ones(classes, h, w)
    size = torch.zeros(2, h, w)
    offset = torch.zeros(2, h, w)
    reg = torch.zeros(h, w)
    ys, xs = torch.arange(h, dtype=torch.float32)[:, None], torch.arange(w, dtype=torch.float32)[None]
    for (x0, y0, x1, y1), c, keep in zip(boxes.tolist(), labels.tolist(), counts.tolist(), strict=True):
        bw, bh = max(x1 - x0, 1.0) / STRIDE, max(y1 - y0, 1.0) / STRIDE
        cx, cy = (x0 + x1) / 2 / STRIDE, (y0 + y1) / 2 / STRIDE
        ix, iy = min(w - 1, max(0, int(cx))), min(h - 1, max(0, int(cy)))
        if not keep:  # neither positive nor negative: no loss inside the box
            weight[
                c,
                max(0, int(y0 / STRIDE)) : int(math.ceil(y1 / STRIDE)),
                max(0, int(x0 / STRIDE)) : int(math.ceil(x1 / STRIDE)),
            ] = 0
            continue
        sx, sy = max(0.5, bw / 6), max(0.5, bh / 6)
        g = torch.exp(-((xs - ix) ** 2) / (2 * sx**2) - ((ys - iy) ** 2) / (2 * sy**2))  # (h, w)
        heat[c] = torch.maximum(heat[c], g)
        size[:, iy, ix] = torch.tensor([math.log(bw), math.log(bh)])
        offset[:, iy, ix] = torch.tensor([cx - ix, cy - iy])
        reg[iy, ix] = 1
    weight = torch.maximum(weight, (heat == 1).float())  # a counted peak is never ignored
    return {"heat": heat, "weight": weight, "size": size, "offset": offset, "reg": reg}


def stack_targets(items: list[dict]) -> dict:
    return {k: torch.stack([t[k] for t in items]) for k in items[0]}


def focal_loss(logits: torch.Tensor, heat: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss; logits/heat/weight (B, C, h, w); normalised by #peaks."""
    p = torch.sigmoid(logits.float()).clamp(1e-4, 1 - 1e-4)
    pos = (heat == 1).float()
    pos_loss = -torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = -torch.log(1 - p) * p**2 * (1 - heat) ** 4 * (1 - pos) * weight
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def reg_loss(pred: torch.Tensor, target: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """L1 at centre cells: pred/target (B, 2, h, w), reg (B, h, w)."""
    m = reg[:, None]
    return (F.l1_loss(pred.float() * m, target * m, reduction="sum")) / m.sum().clamp(min=1)


def decode(heat_logits: torch.Tensor, size: torch.Tensor, offset: torch.Tensor, k: int = 40, threshold: float = 0.05):
    """Peaks → per image dict(boxes (K, 4) px at network input scale, scores (K,), labels (K,))."""
    b, c, h, w = heat_logits.shape
    p = torch.sigmoid(heat_logits.float())
    peaks = p * (F.max_pool2d(p, 3, 1, 1) == p)  # 3×3 non-maximum suppression
    scores, idx = peaks.reshape(b, -1).topk(min(k, c * h * w))  # (B, K)
    labels = idx // (h * w)
    cell = idx % (h * w)
    iy, ix = (cell // w).float(), (cell % w).float()
    sz = size.float().flatten(2).gather(2, cell[:, None].expand(-1, 2, -1)).exp()  # (B, 2, K) in cells
    off = offset.float().flatten(2).gather(2, cell[:, None].expand(-1, 2, -1))  # (B, 2, K)
    cx, cy = ix + off[:, 0], iy + off[:, 1]  # (B, K)
    boxes = torch.stack([cx - sz[:, 0] / 2, cy - sz[:, 1] / 2, cx + sz[:, 0] / 2, cy + sz[:, 1] / 2], 2) * STRIDE
    keep = scores >= threshold  # (B, K)
    return [{"boxes": boxes[i][keep[i]], "scores": scores[i][keep[i]], "labels": labels[i][keep[i]]} for i in range(b)]
