"""Records → one summary row per (method, suite): suite-level metrics and means, written as CSV.

Identity means are over matched subjects of the whole suite (each subject weighs the same, as in
MultiID-Bench); `missing_rate` = Σ missing / Σ subjects. AP, FID (output features vs the suite's
ground-truth features), attribute accuracy and centre-point spread are computed over the suite.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from .attributes import accuracy
from .backends import Detections
from .fid import fid
from .layout import LayoutAP, centre_spread, centres

COLUMNS = [
    "method", "suite", "n_cases", "n_subjects",
    "sim_gt", "sim_ref", "cp", "sim_gt_all", "missing_rate",
    "ap", "ap50", "ap75", "iou", "centre_spread",
    "acc_kind", "acc_time", "acc_expression", "acc_pose", "acc_facing",
    "clip_t", "clip_i", "dino", "fid",
    "lock_psnr", "lock_ssim", "lock_psnr_gain", "lock_ssim_gain", "variation_any",
    "tokens", "tokens_unpruned", "seconds", "peak_mb",
]


def _mean(vals) -> float | None:
    vals = [float(v) for v in vals if v is not None]
    return float(np.mean(vals)) if vals else None


def _ok(rec: dict, key: str) -> dict | None:
    v = rec.get(key)
    return v if isinstance(v, dict) and "skipped" not in v else None


def _subject_values(recs: list[dict], key: str) -> list[float]:
    return [v for r in recs if (i := _ok(r, "identity")) for v in i["per_subject"][key] if v is not None]


def summarize_group(recs: list[dict], gt_features: list | None = None) -> dict:
    row: dict = {"n_cases": len(recs), "n_subjects": sum(r["n_subjects"] for r in recs)}
    ids = [i for r in recs if (i := _ok(r, "identity"))]
    if ids:
        row["sim_gt"] = _mean(_subject_values(recs, "sim_gt"))
        row["sim_ref"] = _mean(_subject_values(recs, "sim_ref"))
        row["cp"] = _mean(_subject_values(recs, "cp"))
        n = sum(i["n_subjects"] for i in ids)
        if n and all(i["sim_gt_all"] is not None for i in ids):
            row["sim_gt_all"] = sum(i["sim_gt_all"] * i["n_subjects"] for i in ids) / n
        row["missing_rate"] = sum(i["n_missing"] for i in ids) / n if n else None
    dets = [r for r in recs if "detections" in r]
    if dets:
        ap = LayoutAP()
        pts = []
        for r in dets:
            dr = r["detections"]
            d = Detections(dr["boxes"], dr["scores"], np.zeros(len(dr["scores"])))
            ap.update(d, np.array(r["canvas_boxes"]))
            pts.append(centres(d.boxes, *r["size"]))
        row.update(ap.compute())
        row["iou"] = _mean(r["layout"]["iou"] for r in dets)
        row["centre_spread"] = centre_spread(np.concatenate(pts)) if pts else None
    hits = [h for r in recs if (h := _ok(r, "attributes"))]
    if hits:
        row.update({f"acc_{k}": v for k, v in accuracy(hits).items()})
    for k in ("clip_t", "clip_i", "dino"):
        row[k] = _mean(r.get(k) for r in recs)
    feats = [r["features"] for r in recs if "features" in r]
    if gt_features is not None and len(feats) >= 2 and len(gt_features) >= 2:
        row["fid"] = fid(np.array(gt_features), np.array(feats))
    locks = [lk for r in recs if (lk := _ok(r, "lock"))]
    for m in ("psnr", "ssim", "psnr_gain", "ssim_gain"):
        row[f"lock_{m}"] = _mean(lk.get(f"{m}_all") for lk in locks)
    row["variation_any"] = _mean(r["variation"]["any"] for r in recs if "variation" in r)
    row["tokens"] = _mean((r.get("tokens") or {}).get("tokens") for r in recs)
    row["tokens_unpruned"] = _mean((r.get("tokens") or {}).get("tokens_unpruned") for r in recs)
    row["seconds"] = _mean(r["cost"]["seconds"] for r in recs)
    row["peak_mb"] = max((r["cost"].get("cuda_peak_mb", r["cost"]["rss_peak_mb"]) for r in recs), default=None)
    return row


def summarize(records: list[dict]) -> list[dict]:
    """One row per (method, suite), in first-seen order; FID uses each suite's ground-truth features."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    gt_feats: dict[str, dict[str, list]] = defaultdict(dict)
    for r in records:
        groups[(r["method"], r["suite"])].append(r)
        if "gt_features" in r:
            gt_feats[r["suite"]][r["case"]] = r["gt_features"]
    rows = []
    for (method, suite), recs in groups.items():
        gf = list(gt_feats[suite].values()) or None
        rows.append({"method": method, "suite": suite, **summarize_group(sorted(recs, key=lambda r: r["case"]), gf)})
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else (f"{row[k]:.4f}" if isinstance(row[k], float) else row[k]))
                        for k in COLUMNS})
