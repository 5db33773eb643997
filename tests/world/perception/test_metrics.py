import numpy as np
import torch

from layercraft.world.perception.coco import average_precision
from layercraft.world.perception.verification import roc_auc, tar_at_far, verification_report


def test_roc_auc_and_tar():
    assert roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert roc_auc(np.array([0.5]), np.array([0.5])) == 0.5
    tar, thr = tar_at_far(np.array([0.9, 0.3]), np.linspace(0, 0.5, 1001), 1e-3)
    assert tar == 0.5 and 0.49 < thr <= 0.5


def test_verification_report_perfect_embeddings():
    emb = torch.eye(4).repeat_interleave(3, 0)  # 4 identities × 3 crops, orthogonal
    rep = verification_report(emb, torch.arange(4).repeat_interleave(3))
    assert rep["roc_auc"] == 1.0 and rep["mean_cos_same"] == 1.0 and rep["mean_cos_different"] == 0.0


def test_average_precision_with_crowd_regions():
    gt = {"boxes": torch.tensor([[0.0, 0, 10, 20], [30, 0, 40, 20]]), "labels": torch.tensor([0, 0])}
    gt["iscrowd"] = torch.tensor([0, 1])  # the second one is too occluded to count
    pred = {"boxes": gt["boxes"].clone(), "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([0, 0])}
    assert average_precision([pred], [gt], ("person",))["person"] == 1.0
    gt["iscrowd"] = torch.tensor([0, 0])
    miss = {k: v[:1] for k, v in pred.items()}
    assert average_precision([miss], [gt], ("person",))["person"] < 0.6
