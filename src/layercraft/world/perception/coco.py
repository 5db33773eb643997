"""COCO average precision through pycocotools (the reference implementation), from tensors."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch


def _xywh(b: torch.Tensor) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in b)
    return [x0, y0, x1 - x0, y1 - y0]


def average_precision(preds: list[dict], targets: list[dict], labels: tuple[str, ...], iou: float = 0.5) -> dict:
    """AP at one IoU (area "all", 100 detections) per class and their mean.

    preds[i]: boxes (K, 4) xyxy, scores (K,), labels (K,); targets[i]: boxes (M, 4), labels (M,),
    iscrowd (M,) — crowd boxes are ignore regions (detections inside them are neither TP nor FP).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets, strict=True)):
        images.append({"id": i})
        for b, c, crowd in zip(t["boxes"], t["labels"].tolist(), t["iscrowd"].tolist(), strict=True):
            xywh = _xywh(b)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": c,
                    "bbox": xywh,
                    "area": xywh[2] * xywh[3],
                    "iscrowd": int(crowd),
                }
            )
        for b, s, c in zip(p["boxes"], p["scores"].tolist(), p["labels"].tolist(), strict=True):
            dets.append({"image_id": i, "category_id": c, "bbox": _xywh(b), "score": s})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": k} for k in range(len(labels))]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(dets) if dets else COCO()
        ev = COCOeval(gt, dt, "bbox")
        ev.params.iouThrs = np.array([iou])
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"][0, :, :, 0, -1]  # (recall thresholds, classes) at area all, maxDets 100
    per_class = {}
    for k, name in enumerate(labels):
        v = prec[:, k]
        per_class[name] = round(float(v[v > -1].mean()), 4) if (v > -1).any() else float("nan")
    return {"mean": round(float(np.mean(list(per_class.values()))), 4), **per_class}
