import numpy as np
import pytest

from layercraft.eval.cost import condition_tokens, measure
from layercraft.eval.fid import fid, frechet_distance, gaussian


def test_fid_of_a_set_with_itself_is_zero(rng):
    x = rng.normal(size=(200, 8))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_known_answer_for_diagonal_gaussians():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 1.0])
    # |Δμ|² + Σ (σ1 − σ2)² per axis for diagonal covariances: 5 + (1 + 1 + 4)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(11.0)


def test_fid_grows_with_shift_and_is_symmetric(rng):
    x = rng.normal(size=(300, 4))
    y = rng.normal(size=(300, 4)) + 0.5
    z = rng.normal(size=(300, 4)) + 1.5
    assert fid(x, y) < fid(x, z)
    assert fid(x, y) == pytest.approx(fid(y, x), rel=1e-6)
    with pytest.raises(ValueError):
        gaussian(x[:1])


def test_condition_tokens_and_measure():
    from PIL import Image

    from layercraft.canvas import Canvas, Layer, Placement

    img = Image.new("RGBA", (32, 32), (200, 10, 10, 255))
    c = Canvas(width=64, height=64, layers=[Layer(id="a", image=img, placement=Placement(x=0, y=0))])
    t = condition_tokens(c, "layercomposer", token_px=16)
    assert t["tokens_noisy"] == 16 and t["tokens"] == 4 and t["tokens_unpruned"] == 16
    with measure(trace_python=True) as cost:
        _ = np.ones(2_000_000)  # 16 MB
    assert cost["seconds"] >= 0 and cost["py_peak_mb"] >= 15 and cost["rss_peak_mb"] > 15
    with measure() as cost:
        pass
    assert "py_peak_mb" not in cost
