import numpy as np
import torch

from layercraft.denoise import Switches, velocity
from layercraft.denoise.flow import euler_step
from layercraft.models.flux_ext import FluxAttentionSwap
from layercraft.models.transformer import LayercraftFluxTransformer
from layercraft.pipelines.retouch import LayoutRetouchFluxPipeline
from lc_spy import record_calls
from lc_subjects import canvas

LAYOUT, REF = "a red dog on the beach", "a photo of a dog"


def _pipe(personalized: bool = True) -> LayoutRetouchFluxPipeline:
    pipe = LayoutRetouchFluxPipeline.from_spec("tiny-test")
    if personalized:
        torch.manual_seed(1)
        pipe.personalized_transformer = LayercraftFluxTransformer(**pipe.transformer.config).eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _z(seed: int) -> torch.Tensor:
    return torch.randn(1, 64, 48, generator=torch.Generator().manual_seed(seed))  # 32×32 canvas → 8×8 tokens


def _sample(pipe, inputs, z, steps, model=None):
    """A hand-written Euler sampler (not the pipeline's loop), to check the loop against."""
    model = model or pipe.transformer
    sig, cond = pipe.sampling_sigmas(steps, inputs.n_noisy), inputs.conditioning()
    with torch.no_grad():
        for i in range(steps):
            z = euler_step(z, velocity(model, inputs, z, sig[i], cond), sig[i], sig[i + 1])
    return z


def test_flow_inversion_then_regeneration_reproduces_the_latent():
    pipe, cv, steps = _pipe(personalized=False), canvas(), 10
    z0 = _z(0)
    zT = pipe.invert(z0, LAYOUT, cv, steps)
    z = _sample(pipe, pipe.inputs([LAYOUT], cv, "layercomposer", Switches(), 3.5), zT, steps)
    assert (zT - z0).abs().mean() > 0.3 * z0.abs().mean()  # inversion really went somewhere
    err = (z - z0).abs().mean() / z0.abs().mean()
    assert err < 0.06, err


def test_step_blending_switches_model_and_prompt_at_lambda():
    pipe, cv, steps = _pipe(), canvas(), 3
    noise = _z(3)
    args = ("a red dog", "a blue dog", cv, noise, steps)
    vanilla, personal = (pipe.inputs([p], cv, "layercomposer", Switches(), 3.5) for p in args[:2])
    torch.testing.assert_close(pipe.step_blended(*args, blend_steps=steps), _sample(pipe, vanilla, noise, steps))
    torch.testing.assert_close(pipe.step_blended(*args, blend_steps=0),
                               _sample(pipe, personal, noise, steps, pipe.personalized_transformer))
    mixed = pipe.step_blended(*args, blend_steps=1)
    assert not torch.allclose(mixed, pipe.step_blended(*args, blend_steps=0))


def test_swap_option_moves_the_right_rows():
    t, n, s = 3, 4, 9  # text, noisy, joint length (2 condition tokens)
    q, k, v = (torch.randn(3, s, 2, 4) for _ in range(3))  # [reference; layout; target]
    swap = FluxAttentionSwap(t, n)
    q2, k2, v2 = swap.before(q, k, v)
    for new, old in ((q2, q), (k2, k), (v2, v)):
        assert torch.equal(new[:2], old[:2]) and torch.equal(new[2], old[1])  # early: target = layout Q/K/V
    swap.early = False
    q3, k3, v3 = swap.before(q, k, v)
    assert torch.equal(q3, q) and torch.equal(k3[2, :t], k[2, :t]) and torch.equal(v3[2, :t], v[2, :t])
    assert torch.equal(k3[2, t:], k[0, t:]) and torch.equal(v3[2, t:], v[0, t:])  # late: reference image K/V
    out = torch.randn(3, s, 2, 4)
    swap.mask = torch.tensor([[1.0, 0.0, 0.5, 0.0]])
    blended = swap.after(out)
    assert torch.equal(blended[2, t], out[2, t]) and torch.equal(blended[2, t + 1], out[1, t + 1])
    torch.testing.assert_close(blended[2, t + 2], 0.5 * (out[1, t + 2] + out[2, t + 2]))
    assert torch.equal(blended[2, t + n :], out[2, t + n :]) and torch.equal(blended[:2], out[:2])


def test_swap_reproduces_the_layout_path():
    pipe, cv, token = _pipe(), canvas(), torch.tensor([3])
    z_lay, z_ref = _z(1), _z(2)
    # full early swap: the target is the layout path; the reference path plays no part
    full = pipe.retouch(z_lay, z_ref, LAYOUT, REF, LAYOUT, cv, 2, 2, lambda maps: None, token)
    torch.testing.assert_close(full[2], full[1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(full[0], full[1], atol=1e-3)
    # swap with itself (reference = layout, same prompts): the late reference K/V are the layout's own
    masks = []
    same = pipe.retouch(z_lay, z_lay, LAYOUT, LAYOUT, LAYOUT, cv, 2, 1,
                        lambda maps: masks.append(len(maps)) or torch.full((1, 64), 0.7), token)
    torch.testing.assert_close(same[2], same[1], atol=1e-5, rtol=1e-5)
    assert masks == [2]  # the probe saw the layout path in both attention layers of the one early step
    late = pipe.retouch(z_lay, z_ref, LAYOUT, REF, LAYOUT, cv, 2, 1, lambda maps: None, token)
    assert not torch.allclose(late[2], late[1], atol=1e-4)  # reference K/V change the target after λ2


def test_retouch_pipeline_end_to_end_with_lora_toggle():
    from peft import LoraConfig

    pipe = _pipe(personalized=False)
    pipe.transformer.add_adapter(LoraConfig(r=2, target_modules=["to_q", "to_v"], init_lora_weights=False))
    seen = []

    def segmenter(img):
        seen.append(img.size)
        return np.ones((img.height, img.width), bool)

    images, layout = pipe("a red dog on the beach", canvas(), class_prompt="a dog on the beach", subject_layer="dog",
                          num_inference_steps=2, blend_steps=1, swap_steps=1, segmenter=segmenter,
                          generator=torch.Generator().manual_seed(0), output_type="np", return_layout=True).images
    assert images.shape == (1, 32, 32, 3) and layout.shape == (1, 32, 32, 3) and seen == [(32, 32)]
    assert np.isfinite(images).all() and not np.allclose(images, layout)
    assert pipe.transformer.active_adapters()  # adapters re-enabled after the vanilla steps


def test_without_canvas_tokens_the_layout_is_the_prompt_only_path_and_the_canvas_gives_the_reference():
    from layercraft.canvas import Canvas

    pipe, cv = _pipe(), canvas()
    noise = _z(4)
    kw = dict(class_prompt="a dog on the beach", subject_layer="dog", num_inference_steps=2, blend_steps=1,
              swap_steps=1, latents=noise, output_type="np", return_layout=True)
    _, layout = pipe("a red dog on the beach", cv, canvas_tokens=False, **kw).images
    empty = Canvas(width=32, height=32, prompt=cv.prompt)
    z = pipe.step_blended("a dog on the beach", "a red dog on the beach", empty, noise, 2, 1)

    grid = (32 // pipe.stride, 32 // pipe.stride)
    np.testing.assert_allclose(layout, pipe.decode(z, grid, "np"), atol=1e-5)
    _, with_tokens = pipe("a red dog on the beach", cv, **kw).images
    assert not np.allclose(layout, with_tokens, atol=1e-3)  # the canvas's condition tokens do change the layout


def test_the_reference_is_moved_into_the_layout_subject_box_before_inversion():
    from PIL import Image

    from layercraft.pipelines.lcp.flux_common import image_latents
    from layercraft.pipelines.lcp.subjects import canvas_subjects
    from layercraft.pipelines.retouch.align import aligned_reference

    pipe, cv = _pipe(), canvas()
    calls = record_calls(pipe, "retouch")
    box = np.zeros((32, 32), bool)
    box[16:32, 0:8] = True  # the subject sits lower left in the layout image

    def segmenter(img):
        return box if img.size == (32, 32) else np.ones((img.height, img.width), bool)

    kw = dict(class_prompt="a dog on the beach", subject_layer="dog", num_inference_steps=2, blend_steps=1,
              swap_steps=1, latents=_z(5), segmenter=segmenter, output_type="np", return_layout=True)
    _, layout = pipe("a red dog on the beach", cv, align_reference=True, **kw).images
    seen = calls[-1]
    layout_pil = Image.fromarray((layout[0] * 255).round().astype(np.uint8))
    dog = next(s for s in canvas_subjects(cv) if s.layer_id == "dog")
    moved = aligned_reference(dog.image, np.ones((12, 12), bool), layout_pil, box)
    # clean reference latents, or its shared inversion
    torch.testing.assert_close(seen["reference_latents"], image_latents(pipe, [moved], (32, 32)), atol=0.02, rtol=0.0)
    assert seen["reference_noise"] is None  # the aligned reference is inverted inside the retouch
    pipe("a red dog on the beach", cv, **kw)  # the default: the paper's recipe, the reference where it is
    seen = calls[-1]
    assert seen["reference_latents"] is None
    torch.testing.assert_close(seen["reference_noise"], pipe.invert_reference("a red dog on the beach", cv, "dog", 2))


def test_retouch_steps_are_set_apart_from_the_layout_steps():
    import pytest

    pipe, cv = _pipe(), canvas()
    calls = record_calls(pipe, "retouch")
    kw = dict(class_prompt="a dog on the beach", subject_layer="dog", num_inference_steps=2, blend_steps=1,
              latents=_z(6), output_type="np")
    pipe("a red dog on the beach", cv, retouch_steps=5, **kw)
    pipe("a red dog on the beach", cv, **kw)
    seen = [(c["num_inference_steps"], c["swap_steps"]) for c in calls]
    assert seen == [(5, 2), (2, 0)]  # λ2 defaults to 2/5 of the retouch steps
    with pytest.raises(ValueError, match=r"swap_steps \(λ2\) must lie in \[0, 5\]"):
        pipe("a red dog on the beach", cv, retouch_steps=5, swap_steps=6, **kw)


def test_refined_flow_inversion_retraces_closer_and_the_call_passes_it_on():
    import pytest

    pipe, cv, steps = _pipe(personalized=False), canvas(), 10
    z0 = _z(0)
    inputs = pipe.inputs([LAYOUT], cv, "layercomposer", Switches(), 3.5)
    plain, refined = ((_sample(pipe, inputs, pipe.invert(z0, LAYOUT, cv, steps, refine=k), steps) - z0).abs().mean()
                      for k in (0, 2))
    assert refined < plain / 3, (plain, refined)

    pipe = _pipe()
    calls = record_calls(pipe, "invert")
    kw = dict(class_prompt="a dog on the beach", subject_layer="dog", num_inference_steps=2, blend_steps=1,
              latents=_z(6), output_type="np")
    pipe("a red dog on the beach", cv, inversion_refine=2, **kw)
    assert [c["refine"] for c in calls] == [2, 2]  # the layout and the reference
    with pytest.raises(ValueError, match="inversion_refine"):
        pipe("a red dog on the beach", cv, inversion_refine=-1, **kw)


def test_a_shared_reference_inversion_gives_the_same_image_with_one_inversion_fewer():
    import pytest

    pipe, cv = _pipe(), canvas()
    kw = dict(class_prompt="a dog on the beach", subject_layer="dog", num_inference_steps=3, blend_steps=1,
              latents=_z(7), output_type="np", retouch_steps=2, inversion_refine=1)
    calls = record_calls(pipe, "invert")
    fresh = pipe("a red dog on the beach", cv, **kw).images
    assert len(calls) == 2
    shared = pipe.invert_reference("a red dog on the beach", cv, "dog", 2, inversion_refine=1)
    calls.clear()
    reused = pipe("a red dog on the beach", cv, reference_noise=shared, **kw).images
    assert len(calls) == 1  # the layout only
    np.testing.assert_array_equal(reused, fresh)
    other = pipe.invert_reference("a red dog on the beach", cv, "dog", 2, inversion_refine=0)
    assert not np.allclose(pipe("a red dog on the beach", cv, reference_noise=other, **kw).images, fresh)
    with pytest.raises(ValueError, match="align_reference"):
        pipe("a red dog on the beach", cv, reference_noise=shared, align_reference=True, **kw)
