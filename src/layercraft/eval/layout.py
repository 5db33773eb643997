"""Layout fidelity: detection AP against the canvas boxes, per-subject IoU, centre-point spread.

- AP / AP50 / AP75: COCO mean average precision (IoU thresholds 0.50:0.05:0.95, 0.50, 0.75) of the
  detector's person boxes on the generated image against the canvas boxes as ground truth, via
  pycocotools `COCOeval` (the reference implementation torchmetrics' `MeanAveragePrecision` wraps;
  torchmetrics would also need torchvision). Accumulated over a whole suite.
- Per-subject IoU: each canvas box is Hungarian-matched (by IoU) to a detection; its IoU, 0 if the
  subject is missing (counted in `n_missing`).
- Centre-point spread (Layout-and-Retouch, Fig. 1): the averaged variance σ² of the 2-D subject
  centre points, normalised by image width / height, over a set of generated images of the same
  prompt; larger σ² = more diverse layouts. `centre_density` is the figure's normalised sum of
  fixed-variance Gaussians, one per centre.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from .backends import Detections
from .matching import iou_matrix, match_boxes


def subject_iou(canvas_boxes: np.ndarray, det: Detections, min_iou: float = 0.1) -> dict:
    """Per-subject IoU of the matched detection (0 when missing), their mean, and counts."""
    m = match_boxes(canvas_boxes, det.boxes, min_iou)
    iou = iou_matrix(canvas_boxes, det.boxes)
    per = [0.0] * len(canvas_boxes)
    for g, d in m.pairs:
        per[g] = float(iou[g, d])
    return {
        "iou": float(np.mean(per)) if per else None,
        "iou_per_subject": per,
        "n_missing": len(m.missing),
        "n_extra": len(m.extra),
    }


class LayoutAP:
    """Suite-level COCO AP of person detections against canvas boxes; `update` per image, `compute` once."""

    def __init__(self) -> None:
        self.images: list[dict] = []
        self.gts: list[dict] = []
        self.dets: list[dict] = []

    @property
    def n_images(self) -> int:
        return len(self.images)

    def update(self, det: Detections, canvas_boxes: np.ndarray) -> None:
        i = len(self.images) + 1
        self.images.append({"id": i})
        for b in np.asarray(canvas_boxes, np.float64).reshape(-1, 4):
            w, h = b[2] - b[0], b[3] - b[1]
            self.gts.append({"id": len(self.gts) + 1, "image_id": i, "category_id": 1, "iscrowd": 0,
                             "bbox": [b[0], b[1], w, h], "area": w * h})
        for b, s in zip(det.boxes, det.scores, strict=True):
            self.dets.append({"image_id": i, "category_id": 1, "score": float(s),
                              "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})

    def compute(self) -> dict:
        if not self.images or not self.gts:
            return {"ap": None, "ap50": None, "ap75": None}
        if not self.dets:
            return {"ap": 0.0, "ap50": 0.0, "ap75": 0.0}
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            gt = COCO()
            gt.dataset = {"images": self.images, "annotations": self.gts, "categories": [{"id": 1, "name": "person"}]}
            gt.createIndex()
            ev = COCOeval(gt, gt.loadRes(self.dets), iouType="bbox")
            ev.params.maxDets = [1, 10, 100]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        val = lambda k: None if ev.stats[k] < 0 else float(ev.stats[k])  # noqa: E731  (-1 = undefined)
        return {"ap": val(0), "ap50": val(1), "ap75": val(2)}


def centres(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 4) boxes → (N, 2) centre points normalised to [0, 1] by image size."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.stack([(b[:, 0] + b[:, 2]) / (2 * width), (b[:, 1] + b[:, 3]) / (2 * height)], 1)


def centre_spread(points: np.ndarray) -> float | None:
    """σ² = mean over x and y of the variance of (N, 2) normalised centre points; None for < 2 points."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    return float(p.var(0).mean()) if len(p) >= 2 else None


def centre_density(points: np.ndarray, size: int = 64, sigma: float = 0.05) -> np.ndarray:
    """(size, size) map: a Gaussian of fixed σ at each normalised centre, summed, normalised to max 1."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    g = (np.arange(size) + 0.5) / size
    xx, yy = np.meshgrid(g, g)  # (size, size)
    d = np.zeros((size, size))
    for x, y in p:
        d += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return d / d.max() if d.max() > 0 else d
