"""Verification figures from embeddings: ROC-AUC, TAR at a FAR, mean same/different cosine."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata


def pair_scores(emb: torch.Tensor, labels: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs of (N, D) unit embeddings → (same-identity cosines, different-identity cosines)."""
    cos = (emb @ emb.T).numpy()  # (N, N)
    lab = labels.numpy()
    iu = np.triu_indices(len(lab), 1)
    same = lab[iu[0]] == lab[iu[1]]
    s = cos[iu]
    return s[same], s[~same]


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a random positive > a random negative), ties counted half (Mann–Whitney U)."""
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def tar_at_far(pos: np.ndarray, neg: np.ndarray, far: float = 1e-3) -> tuple[float, float]:
    """(TAR, threshold): the fraction of positives above the threshold that accepts `far` of negatives."""
    thr = float(np.quantile(neg, 1 - far))
    return float((pos > thr).mean()), thr


def verification_report(emb: torch.Tensor, labels: torch.Tensor) -> dict:
    pos, neg = pair_scores(emb, labels)
    tar, thr = tar_at_far(pos, neg, 1e-3)
    return {
        "identities": int(len(torch.unique(labels))),
        "crops": int(len(labels)),
        "same_pairs": int(len(pos)),
        "different_pairs": int(len(neg)),
        "roc_auc": roc_auc(pos, neg),
        "tar_at_far_1e-3": tar,
        "threshold_at_far_1e-3": thr,
        "mean_cos_same": float(pos.mean()),
        "mean_cos_different": float(neg.mean()),
    }
