import numpy as np

from layercraft.eval.backends import Detections
from layercraft.eval.blend_sweep import (
    SweepRow,
    holds,
    measure,
    reference_embedding,
    spread_delta_interval,
    write_sweep,
)


class BrightDetector:
    """Detects one 'person': the bounding box of pixels brighter than 128."""

    name = "bright"

    def detect(self, image):
        ys, xs = np.nonzero(image.mean(-1) > 128)
        if not len(xs):
            return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
        return Detections(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], float), np.ones(1),
                          np.zeros(1, int))


class ColourIdentity:
    """Identity = the mean colour inside the box."""

    name = "colour"

    def embed(self, image, boxes):
        out = []
        for x0, y0, x1, y1 in np.asarray(boxes, int):
            e = image[y0:y1, x0:x1].reshape(-1, 3).mean(0)
            out.append(e / np.linalg.norm(e))
        return np.asarray(out)


def _img(x, colour):
    a = np.zeros((16, 16, 3), np.uint8)
    a[4:8, x:x + 4] = colour
    return a


def test_measure_gives_centres_and_similarity_of_the_detected_subject():
    from PIL import Image

    det, ident = BrightDetector(), ColourIdentity()
    ref = reference_embedding([Image.fromarray(_img(6, (200, 200, 0)))], det, ident)
    points, sims = measure([_img(0, (200, 200, 0)), _img(12, (0, 200, 200)), np.zeros((16, 16, 3), np.uint8)],
                           det, ident, ref)
    assert points.shape == (2, 2)  # the blank image has no detection
    assert np.allclose(points[:, 1], 6 / 16) and np.allclose(points[:, 0], [2 / 16, 14 / 16])
    assert np.isclose(sims[0], 1.0) and sims[1] < 0.6


def test_claim_holds_where_spread_rises_and_similarity_stays_within_ten_percent(tmp_path):
    rows = [SweepRow(0, 0.01, 0.80, 1.0, 8), SweepRow(2, 0.03, 0.75, 1.0, 8), SweepRow(4, 0.05, 0.70, 1.0, 8),
            SweepRow(8, 0.005, 0.79, 1.0, 8), SweepRow(20, 0.06, 0.10, 1.0, 8)]
    assert holds(rows) == [2]  # λ=4 loses 12.5 % similarity, λ=8 does not spread, λ=20 (vanilla) loses identity
    no_identity = [SweepRow(0, 0.01, 0.05, 1.0, 8), SweepRow(2, 0.03, 0.05, 1.0, 8), SweepRow(20, 0.06, 0.08, 1.0, 8)]
    assert holds(no_identity) == []  # the personalized model is no closer to the subject than the vanilla one
    write_sweep(rows, tmp_path, {"steps": 20})
    assert (tmp_path / "sweep.png").stat().st_size > 0 and "claim_holds_at" in (tmp_path / "sweep.json").read_text()


def test_report_shows_the_sweep_when_present(tmp_path):
    from layercraft.eval.report import _blend_sweep

    assert _blend_sweep(tmp_path) == ""
    write_sweep([SweepRow(0, 0.01, 0.8, 1.0, 4), SweepRow(3, 0.02, 0.78, 0.75, 4), SweepRow(20, 0.03, 0.1, 1.0, 4)],
                tmp_path / "blend_sweep", {"steps": 20})
    section = _blend_sweep(tmp_path)
    assert "λ1 = [3]" in section and "blend_sweep/sweep.png" in section
    write_sweep([SweepRow(0, 0.01, 0.1, 1.0, 4), SweepRow(20, 0.03, 0.1, 1.0, 4)], tmp_path / "blend_sweep", {})
    assert "cannot be judged" in _blend_sweep(tmp_path)
    write_sweep([SweepRow(0, 0.02, 0.8, 1.0, 4), SweepRow(3, 0.01, 0.78, 0.75, 4), SweepRow(20, 0.03, 0.1, 1.0, 4)],
                tmp_path / "blend_sweep", {})
    assert "not reproduced at any λ1" in _blend_sweep(tmp_path)


def test_spread_interval_is_paired_and_needs_a_real_rise():
    rng = np.random.default_rng(0)
    tight = [np.array([0.5, 0.5]) + rng.normal(0, 0.01, 2) for _ in range(16)]
    wide = [np.array([0.5, 0.5]) + rng.normal(0, 0.2, 2) for _ in range(16)]
    lo, hi = spread_delta_interval(tight, wide)
    assert lo > 0  # clearly more spread
    lo, hi = spread_delta_interval(tight, tight)
    assert lo == hi == 0.0  # the same images: no difference in any resample
    lo, hi = spread_delta_interval(wide, [p + rng.normal(0, 0.02, 2) for p in wide])
    assert lo < 0 < hi  # a small perturbation: the interval spans 0
    assert spread_delta_interval([None] * 8, wide[:8]) is None  # nothing detected at the base


def test_claim_uses_the_interval_when_measured():
    base, vanilla = SweepRow(0, 0.01, 0.80, 1.0, 8), SweepRow(20, 0.06, 0.10, 1.0, 8)
    noisy = SweepRow(2, 0.03, 0.79, 1.0, 8, spread_delta_lo=-0.004, spread_delta_hi=0.05)  # higher σ², CI spans 0
    real = SweepRow(3, 0.03, 0.79, 1.0, 8, spread_delta_lo=0.002, spread_delta_hi=0.05)
    assert holds([base, noisy, real, vanilla]) == [3]
