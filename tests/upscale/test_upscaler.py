"""The upscaler on a real photo, tiled against untiled, and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from layercraft.upscale import RRDBNet, UpscaleError, Upscaler


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def edge_energy(a: np.ndarray) -> float:
    gy, gx = np.gradient(a.astype(np.float64).mean(axis=2))
    return float(np.hypot(gx, gy).mean())


def test_real_weights_restore_a_photo_that_random_weights_cannot(anime, face):
    # Real-ESRGAN is a GAN: on a clean ×4 bicubic downscale it re-draws detail, so its PSNR stays below bicubic's
    # (measured 21.4 vs 26.1 dB here) while its edges have the original's strength (bicubic's are ≈ 40 % weak).
    small = np.asarray(Image.fromarray(face).resize((64, 64), Image.Resampling.BICUBIC))
    out = anime.upscale_array(small)
    bicubic = np.asarray(Image.fromarray(small).resize((256, 256), Image.Resampling.BICUBIC))
    torch.manual_seed(0)
    random = Upscaler(RRDBNet(6), dtype=torch.float32).upscale_array(small)
    ref = edge_energy(face)
    assert psnr(out, face) > 19.0 > psnr(random, face) + 10
    assert abs(edge_energy(out) / ref - 1) < 0.25 < abs(edge_energy(bicubic) / ref - 1)
    assert abs(edge_energy(random) / ref - 1) > 0.5
    assert np.abs(out.mean(axis=(0, 1)) - face.mean(axis=(0, 1))).max() < 4  # colours kept


def test_tiled_equals_untiled_away_from_seams(anime, face):
    image = np.asarray(Image.fromarray(face).resize((56, 40), Image.Resampling.BOX))
    whole = anime.upscale_array(image, tile=0).astype(np.int16)
    tiler = Upscaler(anime.net, tile=24, overlap=4, pad=16, dtype=torch.float32)
    plan = tiler.plan(56, 40)
    assert plan.tiles == 6
    tiled = tiler.upscale_array(image).astype(np.int16)
    diff = np.abs(whole - tiled)
    seams = np.zeros(diff.shape[:2], bool)
    for spans, axis in ((plan.rows, 0), (plan.cols, 1)):
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            idx = slice(4 * start - 16, 4 * end + 16)
            if axis == 0:
                seams[idx] = True
            else:
                seams[:, idx] = True
    # the receptive field is wider than the 16-pixel context pad: small differences remain, largest at the seams
    # (measured, in 1/255: ≤ 10 and mean 0.4 more than 16 output pixels from an overlap, ≤ 22 and mean 0.85 nearer)
    assert diff[~seams].max() <= 14 and diff[~seams].mean() < 0.7
    assert diff.max() <= 32 and diff[seams].mean() < 1.5


def test_tiles_cover_the_image_evenly_with_the_overlap():
    from layercraft.upscale.upscaler import spans

    for length, tile, overlap in ((56, 24, 4), (256, 192, 16), (2048, 192, 16), (193, 192, 16), (50, 20, 4)):
        got = spans(length, tile, overlap)
        assert got[0][0] == 0 and got[-1][1] == length and len({e - s for s, e in got}) == 1
        assert all(e - s <= tile for s, e in got)
        assert all(a[1] - b[0] >= overlap for a, b in zip(got, got[1:], strict=False))  # neighbours overlap
        assert all(a[1] <= c[0] for a, c in zip(got, got[2:], strict=False))  # never three at once
    assert spans(256, 192, 16) == ((0, 136), (120, 256))
    assert spans(100, 192, 16) == ((0, 100),)


def test_large_images_run_in_bounded_tiles_and_huge_ones_are_refused(anime, face, monkeypatch):
    up = Upscaler(anime.net, tile=20, overlap=4, pad=6, dtype=torch.float32, max_pixels=50 * 50)
    seen = []
    real = up._run
    monkeypatch.setattr(up, "_run", lambda rgb: seen.append(rgb.shape[:2]) or real(rgb))
    image = np.asarray(Image.fromarray(face).resize((44, 36)))
    out = up.upscale_array(image)
    assert out.shape == (144, 176, 3)
    plan = up.plan(44, 36)
    assert len(seen) == plan.tiles == 6 and max(h * w for h, w in seen) <= plan.max_call_pixels <= (20 + 2 * 6) ** 2
    with pytest.raises(UpscaleError, match="2500"):
        up.upscale(Image.new("RGB", (51, 50)))
    # the default bound: a 2048² input runs as calls of at most 224² input pixels
    assert Upscaler(anime.net, dtype=torch.float32).plan(2048, 2048).max_call_pixels <= 224 * 224
    with pytest.raises(UpscaleError, match="tile 8 must exceed twice the overlap"):
        up.plan(44, 36, tile=8)


def test_alpha_is_kept_and_bad_files_are_one_line_errors(anime, anime_files, tmp_path):
    rgba = Image.new("RGBA", (12, 10), (200, 40, 40, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 6, 10))
    out = anime.upscale(rgba)
    assert out.mode == "RGBA" and out.size == (48, 40)
    alpha = np.asarray(out.getchannel("A"))
    assert alpha[:, :20].max() < 30 and alpha[:, 28:].min() > 225
    param, weights = anime_files
    cut = tmp_path / "cut.bin"
    cut.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(UpscaleError, match="truncated") as err:
        Upscaler.from_files(param, cut)
    assert "\n" not in str(err.value)
    with pytest.raises(UpscaleError, match="not found"):
        Upscaler.from_files(tmp_path / "none.param", weights)
    with pytest.raises(UpscaleError, match="unknown upscaler"):
        Upscaler.from_bundled("oil-paint")
