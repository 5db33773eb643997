"""The ablation table: each paper claim as a baseline row and a variant row on one suite.

Rows are (method or switch, suite) → metrics, read from the summary rows of a run; a method not yet
run shows as empty, so the table is ready to be filled as each variant is generated. Model variants
that need their own training (e.g. AnyPhoto without the replacement curriculum) are run with
`--label NAME@VARIANT` and named that way here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..conditioning.schemes import ANYPHOTO, KONTEXT_COLLAGE, LAYERCOMPOSER, ONE_FOR_ALL

LC, AP, OFA = LAYERCOMPOSER.name, ANYPHOTO.name, ONE_FOR_ALL.name

IDENTITY = ("sim_gt", "sim_ref", "cp", "missing_rate")
LCP = ("sim_gt", "sim_ref", "ap50", "iou", "missing_rate")


@dataclass(frozen=True)
class Ablation:
    paper: str
    claim: str
    suite: str
    baseline: str  # method label
    variant: str  # method label; the claim is about variant vs baseline
    metrics: tuple[str, ...]


ABLATIONS = (
    Ablation("LayerComposer", "layered canvas vs single collage under occlusion", "occlusion",
             KONTEXT_COLLAGE.name, LC, ("sim_gt", "cp", "iou", "ap50", "fid")),
    Ablation("LayerComposer", "locked layers kept, unlocked layers free to change", "lock",
             "layercomposer-unlocked", LC, ("lock_psnr", "lock_ssim", "lock_psnr_gain", "variation_any")),
    Ablation("layercraft", "locked-layer anchoring (lock_blend 0.5) vs the model alone", "lock",
             LC, "layercomposer-lock-blend-0.5",
             ("lock_psnr", "lock_ssim", "lock_psnr_gain", "sim_gt", "variation_any")),
    Ablation("layercraft", "guidance towards the canvas (canvas_cfg_scale 2) vs text guidance alone", "4P",
             LC, "layercomposer-canvas-cfg-2.0",
             ("sim_gt", "cp", "ap50", "iou", "acc_expression", "variation_any", "seconds")),
    Ablation("LayerComposer", "pruning: same quality, fewer tokens", "4P",
             "layercomposer-unpruned", LC, ("sim_gt", "iou", "fid", "tokens", "seconds")),
    Ablation("AnyPhoto", "identity-isolated vs all-visible attention", "4P",
             "anyphoto-all-visible", AP, IDENTITY),
    Ablation("AnyPhoto", "with vs without identity-adaptive modulation (trained)", "4P",
             "anyphoto@curriculum", "anyphoto-modulation@curriculum", IDENTITY),
    Ablation("AnyPhoto", "reference replacement vs none (copy-paste, Tab. 2 c→d)", "2P",
             "anyphoto-modulation@no-replacement", "anyphoto-modulation@curriculum", IDENTITY),
    Ablation("AnyPhoto", "replacement curriculum vs fixed probability (Tab. B)", "2P",
             "anyphoto-modulation@fixed", "anyphoto-modulation@curriculum", IDENTITY),
    Ablation("One-for-All", "with vs without CCPA + DAM (single-subject training)", "4P",
             "one_for_all-plain@single-plain", "one_for_all-ccpa-dam@single-ccpa-dam",
             ("sim_gt", "sim_ref", "cp", "iou", "missing_rate")),
    Ablation("LCP-Diffusion", "box-constrained attention regulation raises layout AP (Tab. I)", "4P",
             LC, "layercomposer-regulation", ("ap", "ap50", "iou", "sim_gt", "seconds")),
    Ablation("LCP-Diffusion", "Tab. III: reference augmentation", "4P",
             "lcp@no-augment", "lcp@full", LCP),
    Ablation("LCP-Diffusion", "Tab. III: static detail refiner", "4P",
             "lcp@no-static", "lcp@full", LCP),
    Ablation("LCP-Diffusion", "Tab. III: grounding attention", "4P",
             "lcp@no-grounding", "lcp@full", LCP),
    Ablation("LCP-Diffusion", "Tab. III: box-constrained regulation", "4P",
             "lcp-no-regulation@full", "lcp@full", LCP),
)


def ablation_rows(summary: list[dict], ablations=ABLATIONS) -> list[dict]:
    """Two rows per ablation (baseline, variant): paper, claim, suite, method, role and the metrics."""
    by = {(r["method"], r["suite"]): r for r in summary}
    out = []
    for a in ablations:
        for role, method in (("baseline", a.baseline), ("variant", a.variant)):
            row = by.get((method, a.suite), {})
            out.append({"paper": a.paper, "claim": a.claim, "suite": a.suite, "method": method, "role": role,
                        "ran": bool(row), "metrics": {m: row.get(m) for m in a.metrics}})
    return out


def _case_value(rec: dict, metric: str) -> float | None:
    """One case's value of a per-case metric: mean over its matched subjects (sim_gt, cp), the layout IoU, or the
    locked-layer SSIM."""
    if metric in ("sim_gt", "cp"):
        ident = rec.get("identity")
        if not isinstance(ident, dict) or "per_subject" not in ident:
            return None
        vals = [v for v in ident["per_subject"][metric] if v is not None]
        return float(np.mean(vals)) if vals else None
    if metric == "iou":
        lay = rec.get("layout")
        return float(lay["iou"]) if isinstance(lay, dict) and lay.get("iou") is not None else None
    if metric == "lock_ssim":  # SSIM over all locked pixels (lock suite)
        lock = rec.get("lock")
        return float(lock["ssim_all"]) if isinstance(lock, dict) and lock.get("ssim_all") is not None else None
    raise ValueError(f"no per-case value for {metric!r}")


def paired_delta(records: list[dict], suite: str, baseline: str, variant: str, metric: str, n_boot: int = 2000,
                 seed: int = 0) -> dict | None:
    """Variant − baseline on the cases both rows ran (same case = same canvas and seed): mean difference and a
    95 % percentile-bootstrap interval over cases; None with fewer than 2 shared cases."""
    by = {(r["method"], r["case"]): r for r in records if r["suite"] == suite}
    pairs = []
    for (method, case), rec in by.items():
        if method != variant or (baseline, case) not in by:
            continue
        a, b = _case_value(by[(baseline, case)], metric), _case_value(rec, metric)
        if a is not None and b is not None:
            pairs.append(b - a)
    if len(pairs) < 2:
        return None
    d = np.asarray(pairs)
    boots = np.random.default_rng(seed).choice(d, (n_boot, len(d))).mean(1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"delta": float(d.mean()), "lo": float(lo), "hi": float(hi), "n": len(d)}


def ablation_deltas(records: list[dict], ablations=ABLATIONS, metrics=("sim_gt", "cp", "iou")) -> list[dict]:
    """Per ablation: paired Δ (variant − baseline) with its interval for each per-case metric."""
    return [{"paper": a.paper, "claim": a.claim, "suite": a.suite, "baseline": a.baseline, "variant": a.variant,
             "deltas": {m: paired_delta(records, a.suite, a.baseline, a.variant, m) for m in metrics}}
            for a in ablations]
