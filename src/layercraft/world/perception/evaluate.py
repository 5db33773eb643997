"""Validation figures of the perception models on rendered ground truth (used by scripts and the CLI)."""

from __future__ import annotations

import torch

from ..identity import character
from .coco import average_precision
from .detector import LABELS
from .verification import verification_report


def detection_ap(model, rec: dict, batch: int = 64, strict: bool = False) -> dict:
    """COCO AP at IoU 0.5 (pycocotools) over `rec` images (see scene_data.scene_records).

    Objects too occluded to see (rec["box_counts"] False) are COCO "crowd" regions — neither missed
    nor false positives — unless `strict`, where every ground-truth box counts.
    """
    preds, tgts = [], []
    n = len(rec["rgb"])
    for s in range(0, n, batch):
        preds += model.detect(rec["rgb"][s : s + batch], threshold=0.01, k=60)
    for i in range(n):
        m = rec["box_image"] == i
        crowd = torch.zeros(int(m.sum()), dtype=torch.int64) if strict else (~rec["box_counts"][m]).long()
        tgts.append({"boxes": rec["boxes"][m], "labels": rec["box_label"][m], "iscrowd": crowd})
    counted = len(rec["boxes"]) if strict else int(rec["box_counts"].sum())
    return {"ap50": average_precision(preds, tgts, LABELS), "images": n, "objects": counted}


def identity_verification(model, x: torch.Tensor, y: torch.Tensor) -> dict:
    return verification_report(model.embed(x), y)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a (N, 4), b (M, 4) xyxy → (N, M) intersection over union."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    area_a, area_b = (a[:, 2:] - a[:, :2]).prod(1), (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None] - inter).clamp(min=1e-6)


def identity_with_detector_boxes(encoder, detector, specs) -> dict:
    """Verification where the crops are cut at the *detector's* person boxes (as evaluation of generated
    images does): each clearly visible person is matched to its best detection (IoU > 0.5)."""
    from ..scene import render
    from .scene_data import CLEAR_FACE, CLEAR_PERSON, visibility

    embs, ids, clear_people, matched = [], [], 0, 0
    for spec in specs:
        s = render(spec)
        pv, fv = visibility(s)
        clear = (pv >= CLEAR_PERSON) & (fv >= CLEAR_FACE)
        det = detector.detect(s.rgb, threshold=0.3)[0]
        boxes = det["boxes"][det["labels"] == 0]  # (K, 4)
        clear_people += int(clear.sum())
        if not clear.any() or len(boxes) == 0:
            continue
        iou = box_iou(torch.from_numpy(s.person_boxes[clear]).float(), boxes)  # (P, K)
        best, k = iou.max(1)
        ok = best > 0.5
        matched += int(ok.sum())
        if ok.any():
            embs.append(encoder.embed_boxes(s.rgb, boxes[k[ok]].numpy()))
            clear_ids = [p["identity"] for p, c in zip(s.meta["people"], clear, strict=True) if c]
            ids += [i for i, o in zip(clear_ids, ok.tolist(), strict=True) if o]
    rep = verification_report(torch.cat(embs), torch.tensor(ids))
    return {**rep, "clear_people": clear_people, "matched_iou_0.5": matched}


def attribute_accuracy(model, rec: dict) -> dict:
    """Accuracy of every attribute head on `rec` (scene heads on rgb, person heads on clear-person crops),
    the expression confusion matrix (rows: truth, columns: prediction, EXPRESSIONS order) and the
    expression accuracy with "neutral" and "smiling" merged (their mouths differ by about one pixel
    at 128×128)."""
    scene = model.classify_images(rec["rgb"])
    people = model.classify_crops(rec["crops"], rec["faces"])
    out = {}
    for name, logits in {**scene, **people}.items():
        out[name] = round(float((logits.argmax(1) == rec[name]).float().mean()), 4)
    pred, true = people["expression"].argmax(1), rec["expression"]
    merged = torch.where(pred == 1, 0, pred) == torch.where(true == 1, 0, true)  # 0 neutral, 1 smiling
    out["expression_neutral=smiling"] = round(float(merged.float().mean()), 4)
    # sunglasses hide the eyes, so "eyes closed" cannot be seen on their wearers
    eyes = torch.tensor([character(int(i)).glasses != "sunglasses" for i in rec["identity"]], dtype=torch.bool)
    out["expression_neutral=smiling_eyes_visible"] = round(float(merged[eyes].float().mean()), 4)
    k = people["expression"].shape[1]
    confusion = torch.zeros(k, k, dtype=torch.int64).index_put_((true, pred), torch.ones_like(true), accumulate=True)
    return {
        "accuracy": out,
        "expression_confusion": confusion.tolist(),
        "images": len(rec["rgb"]),
        "people": len(rec["crops"]),
    }
