"""Identity fidelity: Sim(GT), Sim(Ref) and the copy-paste score CP.

AnyPhoto appendix 0.A.4, eqs. 31-34 (after MultiID-Bench / WithAnyone). For subject i with unit-norm
embeddings of the reference r_i, the ground truth g_i and the generated face/person e_i:

    sim(a, b)  = a·b / (|a| |b|)                                   (31)
    Sim(GT)    = mean_i sim(e_i, g_i),   Sim(Ref) = mean_i sim(e_i, r_i)    (32)
    θ(a, b)    = arccos sim(a, b)                                  (33)
    CP_i       = (θ(e_i, g_i) − θ(e_i, r_i)) / max(θ(g_i, r_i), ε)          (34)

CP = +1 when the output *is* the reference (pasted), −1 when it is the ground truth. Generated
subjects are assigned to ground-truth subjects by Hungarian matching (`matching.py`); a subject with
no match is a *missing detection*: it is counted (`n_missing`), excluded from the matched means and
counted as similarity 0 in `sim_gt_all` / `sim_ref_all`, never dropped silently.
"""

from __future__ import annotations

import numpy as np

from .matching import Matching

EPS = 1e-6


def unit(x: np.ndarray) -> np.ndarray:
    """(N, D) → rows scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n > 0, n, 1)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of (N, D) and (N, D) → (N,)."""
    return np.clip((unit(a) * unit(b)).sum(-1), -1.0, 1.0)


def angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise angle θ = arccos(cos) in radians, (N,)."""
    return np.arccos(cosine(a, b))


def copy_paste(gen: np.ndarray, gt: np.ndarray, ref: np.ndarray, eps: float = EPS) -> np.ndarray:
    """CP per row (eq. 34): (θ(gen, gt) − θ(gen, ref)) / max(θ(gt, ref), eps); (N,) in about [−1, 1]."""
    return (angle(gen, gt) - angle(gen, ref)) / np.maximum(angle(gt, ref), eps)


def identity_metrics(gt: np.ndarray | None, ref: np.ndarray, gen: np.ndarray, matching: Matching) -> dict:
    """Scores of one case: `gt`, `ref` (N, D) per subject, `gen` (M, D) per detection.

    Returns matched means, means with missing subjects as 0, counts and per-subject values
    (None for a missing subject). Without ground truth (`gt` None) only Sim(Ref) is defined.
    """
    n = len(ref)
    per = {"sim_gt": [None] * n, "sim_ref": [None] * n, "cp": [None] * n}
    if matching.pairs:
        g, d = (np.array(v) for v in zip(*matching.pairs, strict=True))
        scores = [("sim_ref", cosine(gen[d], ref[g]))]
        if gt is not None:
            scores += [("sim_gt", cosine(gen[d], gt[g])), ("cp", copy_paste(gen[d], gt[g], ref[g]))]
        for key, vals in scores:
            for i, v in zip(g, vals, strict=True):
                per[key][int(i)] = float(v)
    got = [v for v in per["sim_ref"] if v is not None]

    def mean(k: str) -> float | None:
        vals = [v for v in per[k] if v is not None]
        return float(np.mean(vals)) if vals else None

    def total(k: str) -> float | None:
        if not n or (k == "sim_gt" and gt is None):
            return None
        return float(sum(v for v in per[k] if v is not None) / n)

    return {
        "n_subjects": n,
        "n_matched": len(got),
        "n_missing": len(matching.missing),
        "n_extra": len(matching.extra),
        "sim_gt": mean("sim_gt"),
        "sim_ref": mean("sim_ref"),
        "cp": mean("cp"),
        "sim_gt_all": total("sim_gt"),
        "sim_ref_all": total("sim_ref"),
        "per_subject": per,
    }
