import numpy as np
import pytest

from layercraft.eval.backends import Detections
from layercraft.eval.layout import LayoutAP, centre_density, centre_spread, centres, subject_iou

BOXES = np.array([[10, 20, 60, 120], [80, 30, 140, 150], [150, 10, 200, 100]], float)


def test_ap_is_one_for_perfect_boxes():
    ap = LayoutAP()
    for k in range(3):
        ap.update(Detections(BOXES[k:], np.full(3 - k, 0.9), np.zeros(3 - k)), BOXES[k:])
    r = ap.compute()
    assert r["ap"] == pytest.approx(1.0) and r["ap50"] == pytest.approx(1.0) and r["ap75"] == pytest.approx(1.0)


def test_ap_drops_for_shifted_and_missing_boxes():
    ap = LayoutAP()
    shifted = BOXES + np.array([12, 0, 12, 0])  # IoU ≈ 0.6-0.7 with the canvas boxes
    ap.update(Detections(shifted[:2], [0.9, 0.8], [0, 0]), BOXES)
    r = ap.compute()
    assert r["ap50"] == pytest.approx(2 / 3, abs=0.02)  # recall capped at 2 of 3
    assert r["ap75"] == pytest.approx(0.0)
    assert 0 < r["ap"] < r["ap50"]


def test_subject_iou_counts_missing_and_is_order_invariant():
    det = Detections(BOXES[[2, 0]], [0.9, 0.9], [0, 0])
    r = subject_iou(BOXES, det)
    assert r["iou_per_subject"] == [1.0, 0.0, 1.0] and r["n_missing"] == 1
    assert r["iou"] == pytest.approx(2 / 3)
    r2 = subject_iou(BOXES, Detections(BOXES[[0, 2]], [0.9, 0.9], [0, 0]))
    assert r2["iou_per_subject"] == r["iou_per_subject"]


def test_centre_spread_known_answer():
    pts = centres(np.array([[0, 0, 20, 20], [80, 80, 100, 100]]), 100, 100)
    np.testing.assert_allclose(pts, [[0.1, 0.1], [0.9, 0.9]])
    assert centre_spread(pts) == pytest.approx(0.16)  # var of {0.1, 0.9} = 0.16 on both axes
    assert centre_spread(pts[:1]) is None
    assert centre_spread(np.repeat(pts[:1], 5, 0)) == 0.0


def test_centre_density_peaks_at_centres():
    d = centre_density(np.array([[0.25, 0.75]]), size=8)
    assert d.max() == pytest.approx(1.0)
    assert np.unravel_index(d.argmax(), d.shape) in {(5, 1), (6, 2), (5, 2), (6, 1)}
