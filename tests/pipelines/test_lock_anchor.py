import numpy as np
import pytest
import torch

from layercraft.canvas.raster import composite
from layercraft.conditioning import unpack
from layercraft.pipelines.lock_anchor import lock_anchor, locked_coverage
from lc_canvases import canvas


def _run(pipe, cv, **kw):
    kw.setdefault("num_inference_steps", 4)
    kw.setdefault("generator", torch.Generator().manual_seed(0))
    return pipe("two people", cv, **kw).images


def test_coverage_is_the_visible_part_of_locked_layers():
    cv = canvas(2, locked=(0,))  # l0 locked at (0, 0), l1 unlocked in front at (8, 5)
    cover = locked_coverage(cv)
    a0 = np.asarray(cv.layers[0].image)[..., 3] >= 128
    a1 = np.zeros((32, 32), bool)
    a1[5:21, 8:24] = np.asarray(cv.layers[1].image)[..., 3] >= 128
    expect = np.zeros((32, 32), bool)
    expect[:16, :16] = a0
    expect &= ~a1  # the unlocked layer hides part of the locked one
    assert (cover.astype(bool) == expect).all() and expect.any() and (a1 & (cover > 0)).sum() == 0
    assert not locked_coverage(canvas(2)).any()


def test_full_blend_reproduces_the_locked_pixels_and_leaves_the_rest_to_the_model(pipe):
    cv = canvas(2, locked=(0,))
    free = _run(pipe, cv, output_type="pt")[0]  # (3, 32, 32)
    held = _run(pipe, cv, output_type="pt", lock_blend=1.0)[0]
    want = torch.from_numpy(np.asarray(composite(cv), np.float32) / 255.0).permute(2, 0, 1)
    s, g = pipe.stride, 32 // pipe.stride
    anchor = lock_anchor(pipe.vae, [cv], pipe.vae_factor, torch.zeros(1, g * g, 1))

    def pixels(tokens):  # (L,) bool → (32, 32)
        return tokens.view(g, g).repeat_interleave(s, 0).repeat_interleave(s, 1)

    full, none = pixels(anchor.weight[0].amin(-1) == 1), pixels(anchor.weight[0].amax(-1) == 0)
    assert full.any() and none.any()
    # fully covered tokens: the collage, up to 8-bit rounding; the model alone does not get there
    assert (held[:, full] - want[:, full]).abs().max() < 2 / 255
    assert (free[:, full] - want[:, full]).abs().mean() > 0.05
    # tokens with no locked pixel are not replaced: they stay the model's
    assert not torch.allclose(held[:, none], want[:, none], atol=0.05)


def test_zero_blend_and_canvases_without_locks_are_unchanged(pipe):
    cv = canvas(2, locked=(0,))
    base = _run(pipe, cv, output_type="latent")
    assert torch.equal(base, _run(pipe, cv, output_type="latent", lock_blend=0.0))
    assert not torch.equal(base, _run(pipe, cv, output_type="latent", lock_blend=0.5))
    unlocked = canvas(2)
    assert torch.equal(_run(pipe, unlocked, output_type="latent"),
                       _run(pipe, unlocked, output_type="latent", lock_blend=0.5))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "half"])
def test_lock_blend_out_of_range_is_refused(pipe, bad):
    with pytest.raises(ValueError, match="lock_blend"):
        _run(pipe, canvas(2, locked=(0,)), lock_blend=bad)


def test_only_wholly_covered_latent_pixels_are_anchored(pipe):
    cv = canvas(2, locked=(0,))
    f, g = pipe.vae_factor, 32 // pipe.vae_factor
    cover = torch.from_numpy(locked_coverage(cv)).view(g, f, g, f)
    whole, partial = cover.amin(dim=(1, 3)) == 1, (cover.amax(dim=(1, 3)) > 0) & (cover.amin(dim=(1, 3)) < 1)
    assert whole.any() and partial.any()
    anchor = lock_anchor(pipe.vae, [cv], f, torch.zeros(1, 1, 1))
    c = pipe.latent_channels
    weight = torch.stack([unpack(anchor.weight[0], (g // 2, g // 2))[i] for i in range(c)])  # (C, g, g)
    assert (weight[:, whole] == 1).all() and (weight[:, ~whole] == 0).all()  # no halo from blank pixels
