import numpy as np
import pytest

from layercraft.eval.lock import layer_fidelity, masked_psnr, masked_ssim, variation_rate


def _layer(rng, h=48, w=48):
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[8:40, 10:30, :3] = rng.integers(40, 200, (32, 20, 3))
    rgba[8:40, 10:30, 3] = 255
    return rgba


def test_identical_inside_alpha_is_infinite_psnr_and_unit_ssim(rng):
    layer = _layer(rng)
    gen = rng.integers(0, 256, (48, 48, 3)).astype(np.uint8)
    gen[8:40, 10:30] = layer[8:40, 10:30, :3]  # outside the alpha the output may be anything
    r = layer_fidelity(gen, layer)
    assert r["psnr"] == float("inf") and r["psnr_gain"] == float("inf")
    assert r["ssim"] == pytest.approx(1.0) and r["ssim_gain"] == pytest.approx(1.0)


def test_psnr_known_answer():
    y = np.full((4, 4, 3), 0.5)
    x = y + 0.1
    assert masked_psnr(x, y, np.ones((4, 4))) == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    z = np.random.default_rng(1).random((16, 16, 3))
    assert masked_ssim(z, z, np.ones((16, 16))) == pytest.approx(1.0)
    assert masked_ssim(z, 1 - z, np.ones((16, 16))) < 0


def test_gain_normalisation_ignores_a_pure_per_channel_gain(rng):
    layer = _layer(rng)
    y = layer[..., :3].astype(np.float64) / 255
    gen = y * np.array([0.7, 0.9, 0.6])  # relit: a per-channel gain, nothing else
    r = layer_fidelity(gen, layer)
    assert r["psnr"] < 25
    assert r["psnr_gain"] > 100 and r["ssim_gain"] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(r["gain"], [1 / 0.7, 1 / 0.9, 1 / 0.6], rtol=1e-6)
    noisy = np.clip(y + rng.normal(0, 0.05, y.shape), 0, 1)
    assert layer_fidelity(noisy, layer)["psnr_gain"] < 40  # real changes still cost


def test_empty_alpha_rejected():
    with pytest.raises(ValueError):
        layer_fidelity(np.zeros((4, 4, 3)), np.zeros((4, 4, 4), np.uint8))


def test_variation_rate():
    ref = [{"pose": "a", "expression": "x"}, {"pose": "b", "expression": "y"}, {"pose": "c", "expression": "z"}]
    gen = [{"pose": "a", "expression": "q"}, {"pose": "b", "expression": "y"}, None]
    r = variation_rate(ref, gen)
    assert r["n"] == 2 and r["n_missing"] == 1
    assert r["pose"] == 0.0 and r["expression"] == 0.5 and r["any"] == 0.5
