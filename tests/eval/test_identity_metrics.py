import numpy as np
import pytest

from layercraft.eval.identity import angle, copy_paste, identity_metrics
from layercraft.eval.matching import hungarian, iou_matrix, match_boxes, match_embeddings


def _rand_unit(rng, n, d=16):
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_identical_embeddings_give_sim_one(rng):
    gt = _rand_unit(rng, 3)
    ref = _rand_unit(rng, 3)
    m = match_embeddings(gt, gt)
    r = identity_metrics(gt, ref, gt.copy(), m)
    assert r["sim_gt"] == pytest.approx(1.0)
    assert r["n_missing"] == 0 and r["n_matched"] == 3


def test_copy_paste_is_plus_one_for_reference_and_minus_one_for_ground_truth(rng):
    gt, ref = _rand_unit(rng, 4), _rand_unit(rng, 4)
    np.testing.assert_allclose(copy_paste(ref, gt, ref), 1.0, atol=1e-6)
    np.testing.assert_allclose(copy_paste(gt, gt, ref), -1.0, atol=1e-6)
    # halfway along the great circle from GT to ref: CP = 0
    mid = (gt + ref) / np.linalg.norm(gt + ref, axis=1, keepdims=True)
    np.testing.assert_allclose(copy_paste(mid, gt, ref), 0.0, atol=1e-6)


def test_angle_known_values():
    a = np.array([[1.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 2.0], [-3.0, 0.0]])
    np.testing.assert_allclose(angle(a, b), [np.pi / 2, np.pi])


def test_hungarian_beats_greedy_and_is_order_invariant(rng):
    # greedy would take (0, 0) = 0.9 and leave (1, 1) = 0.0; the optimum is 0.8 + 0.8
    s = np.array([[0.9, 0.8], [0.8, 0.0]])
    assert hungarian(s).pairs == [(0, 1), (1, 0)]
    gt = _rand_unit(rng, 5)
    gen = gt + 0.05 * rng.normal(size=gt.shape)
    perm = rng.permutation(5)
    a, b = match_embeddings(gt, gen), match_embeddings(gt, gen[perm])
    # after permuting the generated set, each GT is matched to the same generated vector
    assert [perm[j] for _, j in b.pairs] == [j for _, j in a.pairs]
    ref = _rand_unit(rng, 5)
    ra, rb = identity_metrics(gt, ref, gen, a), identity_metrics(gt, ref, gen[perm], b)
    assert ra["sim_gt"] == pytest.approx(rb["sim_gt"]) and ra["cp"] == pytest.approx(rb["cp"])


def test_missing_detections_are_counted_not_dropped(rng):
    gt, ref = _rand_unit(rng, 3), _rand_unit(rng, 3)
    boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], float)
    gen_boxes = boxes[[2, 0]]  # subject 1 was not generated
    m = match_boxes(boxes, gen_boxes)
    assert m.missing == [1] and m.extra == []
    r = identity_metrics(gt, ref, gt[[2, 0]], m)
    assert r["n_missing"] == 1 and r["n_matched"] == 2
    assert r["sim_gt"] == pytest.approx(1.0)
    assert r["sim_gt_all"] == pytest.approx(2 / 3)
    assert r["per_subject"]["sim_gt"][1] is None


def test_nothing_detected():
    gt = np.eye(2)
    m = match_boxes(np.array([[0, 0, 5, 5], [5, 5, 9, 9]]), np.zeros((0, 4)))
    r = identity_metrics(gt, gt, np.zeros((0, 2)), m)
    assert r["n_missing"] == 2 and r["sim_gt"] is None and r["sim_gt_all"] == 0.0


def test_iou_matrix_known_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])
