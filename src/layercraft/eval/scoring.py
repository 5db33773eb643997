"""Score one generated image of one case → a JSON-able record of every metric family.

Per-case values go in the record; suite-level values (AP, FID, centre spread, attribute accuracy,
subject-weighted identity means) are computed from the records by `summary.py`. A family whose
backend is absent is recorded as {"skipped": reason}, never left out silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .attributes import attribute_hits
from .backends import Backends, Detections
from .cases import Case
from .identity import identity_metrics
from .layout import subject_iou
from .lock import layer_fidelity, variation_rate
from .matching import match_boxes, match_embeddings


@dataclass
class ScoreConfig:
    match: str = "box"  # "box": detections ↔ canvas boxes by IoU (layout-grounded); "embedding": MultiID-Bench
    min_iou: float = 0.1
    person_label: int = 0
    clip: object | None = None  # embedding_scores.ClipScorer
    dino: object | None = None  # embedding_scores.DinoScorer


def _json_float(v: float) -> float | str:
    return v if np.isfinite(v) else ("inf" if v > 0 else "-inf")


def score_lock(case: Case, gen: np.ndarray) -> dict:
    regions = case.lock_regions()
    if not regions:
        return {"skipped": "no locked layer"}
    per = {}
    for lid, rgba in regions.items():
        r = layer_fidelity(gen, rgba)
        per[lid] = {k: (_json_float(v) if isinstance(v, float) else v) for k, v in r.items()}
    persons = {k: v for k, v in per.items() if k in case.subjects}
    out = {"layers": per}
    for name, group in (("all", per), ("subjects", persons)):
        if group:
            for m in ("psnr", "ssim", "psnr_gain", "ssim_gain"):
                vals = [float(v[m]) for v in group.values()]
                out[f"{m}_{name}"] = _json_float(float(np.mean(np.minimum(vals, 100.0)))) if "psnr" in m \
                    else float(np.mean(vals))
    return out


def score_case(case: Case, image: Image.Image, backends: Backends, cfg: ScoreConfig | None = None) -> dict:
    cfg = cfg or ScoreConfig()
    gen = np.asarray(image.convert("RGB").resize((case.canvas.width, case.canvas.height)))  # (H, W, 3)
    rec: dict = {"n_subjects": case.n_subjects, "size": [case.canvas.width, case.canvas.height],
                 "canvas_boxes": case.boxes.tolist(), "lock": score_lock(case, gen)}

    # detections → layout, and the boxes where identity / attributes are read
    if backends.detector is not None:
        det = backends.detector.detect(gen).of_label(cfg.person_label)
        rec["detections"] = {"boxes": det.boxes.tolist(), "scores": det.scores.tolist()}
        rec["layout"] = subject_iou(case.boxes, det, cfg.min_iou)
        boxes_from = "detector"
    else:
        det = Detections(case.boxes, np.ones(case.n_subjects), np.zeros(case.n_subjects))
        rec["layout"] = {"skipped": "no detector"}
        boxes_from = "canvas"
    matching = match_boxes(case.boxes, det.boxes, cfg.min_iou)

    if backends.identity is not None:
        refs, ref_boxes = case.references()
        ref = np.stack([backends.identity.embed(im, b[None])[0] for im, b in zip(refs, ref_boxes, strict=True)]) \
            if len(refs) else np.zeros((0, 1))
        tb = case.target_boxes if case.target_boxes is not None else case.boxes
        gt = backends.identity.embed(case.target, tb) if case.target is not None else None
        emb = backends.identity.embed(gen, det.boxes) if len(det) else np.zeros((0, ref.shape[-1]))
        if cfg.match == "embedding":
            matching = match_embeddings(gt if gt is not None else ref, emb)
        rec["identity"] = identity_metrics(gt, ref, emb, matching)
        rec["identity"]["boxes_from"] = boxes_from
        rec["identity"]["match"] = cfg.match
    else:
        rec["identity"] = {"skipped": "no identity backend"}

    gen_of = matching.gen_of(case.n_subjects)
    if backends.attributes is not None and case.truth:
        pred = backends.attributes.predict(gen, det.boxes)
        rec["attributes"] = attribute_hits(pred, case.truth.get("image", {}), case.truth.get("people", []), gen_of)
        refs = case.truth.get("reference_people") or []
        unlocked = [i for i, r in enumerate(refs) if r is not None]
        if unlocked:
            rec["variation"] = variation_rate(
                [refs[i] for i in unlocked],
                [pred.people[gen_of[i]] if gen_of[i] is not None else None for i in unlocked],
            )
    else:
        rec["attributes"] = {"skipped": "no attribute classifier" if backends.attributes is None else "no truth"}

    if backends.features is not None:
        rec["features"] = np.asarray(backends.features.features([gen]))[0].tolist()
        if case.target is not None:
            rec["gt_features"] = np.asarray(backends.features.features([case.target]))[0].tolist()
    if cfg.clip is not None:
        rec["clip_t"] = float(cfg.clip.clip_t([gen], [case.prompt])[0])
        if case.target is not None:
            rec["clip_i"] = float(cfg.clip.clip_i([gen], [case.target])[0])
    if cfg.dino is not None and case.target is not None:
        rec["dino"] = float(cfg.dino.dino([gen], [case.target])[0])
    return rec
