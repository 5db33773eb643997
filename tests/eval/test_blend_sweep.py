import numpy as np

from layercraft.eval.backends import Detections
from layercraft.eval.blend_sweep import SweepRow, holds, measure, reference_embedding, write_sweep


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
