"""The ablation table: each paper claim as a baseline row and a variant row on one suite.

Rows are (method or switch, suite) → metrics, read from the summary rows of a run; a method not yet
run shows as empty, so the table is ready to be filled as each variant is generated. Model variants
that need their own training (e.g. AnyPhoto without the replacement curriculum) are run with
`--label NAME@VARIANT` and named that way here.
"""

from __future__ import annotations

from dataclasses import dataclass

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
             "kontext_collage", "layercomposer", ("sim_gt", "cp", "iou", "ap50", "fid")),
    Ablation("LayerComposer", "locked layers kept, unlocked layers free to change", "lock",
             "layercomposer-unlocked", "layercomposer", ("lock_psnr", "lock_ssim", "lock_psnr_gain", "variation_any")),
    Ablation("LayerComposer", "pruning: same quality, fewer tokens", "4P",
             "layercomposer-unpruned", "layercomposer", ("sim_gt", "iou", "fid", "tokens", "seconds")),
    Ablation("AnyPhoto", "identity-isolated vs all-visible attention", "4P",
             "anyphoto-all-visible", "anyphoto", IDENTITY),
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
             "layercomposer", "layercomposer-regulation", ("ap", "ap50", "iou", "sim_gt", "seconds")),
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
