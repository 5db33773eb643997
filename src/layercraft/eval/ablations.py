"""The ablation table: each paper claim as a baseline row and a variant row on one suite.

Rows are (method or switch, suite) → metrics, read from the summary rows of a run; a method not yet
run shows as empty, so the table is ready to be filled as each variant is generated. Model variants
that need their own training (e.g. AnyPhoto without the replacement curriculum) are run with
`--label NAME@VARIANT` and named that way here.
"""

from __future__ import annotations

from dataclasses import dataclass

IDENTITY = ("sim_gt", "sim_ref", "cp", "missing_rate")


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
    Ablation("AnyPhoto", "with vs without identity-adaptive modulation", "4P",
             "anyphoto", "anyphoto-modulation", IDENTITY),
    Ablation("AnyPhoto", "replacement curriculum vs none (copy-paste)", "2P",
             "anyphoto@no-curriculum", "anyphoto", IDENTITY),
    Ablation("One-for-All", "with vs without CCPA + DAM (single-subject training)", "4P",
             "one_for_all", "one_for_all-ccpa-dam", ("sim_gt", "cp", "iou", "acc_expression", "acc_pose")),
    Ablation("LCP-Diffusion", "box-constrained attention regulation raises layout AP", "4P",
             "layercomposer", "layercomposer-regulation", ("ap", "ap50", "iou", "sim_gt", "seconds")),
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
