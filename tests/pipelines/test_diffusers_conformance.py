"""LayeredCanvasPipeline called as a diffusers / FluxKontextPipeline user calls it."""

import logging

import pytest
import torch
from diffusers import FirstBlockCacheConfig
from PIL import Image

from lc_canvases import canvas

PROMPT = "a man and a woman in a park"


def _run(pipe, cv=None, **kw):
    kw.setdefault("num_inference_steps", 2)
    kw.setdefault("output_type", "pt")
    kw.setdefault("generator", torch.Generator().manual_seed(0))
    return pipe(prompt=kw.pop("prompt", PROMPT), canvas=cv, **kw).images


class Spy:
    def __init__(self, pipe):
        self.calls = []
        self.hook = pipe.transformer.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        self.calls.append({"hidden": kwargs["hidden_states"].shape, "text": kwargs["encoder_hidden_states"].shape})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.hook.remove()


def test_lora_strength_follows_joint_attention_kwargs_scale(pipe):
    from peft import LoraConfig

    cv = canvas(2)
    base = _run(pipe, cv)
    pipe.transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_v"],
                                            init_lora_weights=False))
    try:
        full = _run(pipe, cv)
        half = _run(pipe, cv, joint_attention_kwargs={"scale": 0.5})
        zero = _run(pipe, cv, joint_attention_kwargs={"scale": 0.0})
    finally:
        pipe.transformer.delete_adapters("default")
    assert (full - base).abs().max() > 1e-3
    torch.testing.assert_close(zero, base, atol=1e-6, rtol=0)
    assert 0 < (half - base).abs().max() < (full - base).abs().max()


def test_an_image_alone_is_a_one_layer_canvas(pipe):
    img = Image.new("RGB", (70, 37), (200, 30, 30))
    cv = pipe.image_canvas(img, PROMPT)
    assert (cv.width, cv.height) == (64, 32) and len(cv.layers) == 1 and cv.layers[0].locked  # rounded down to 16
    torch.testing.assert_close(_run(pipe, image=img), _run(pipe, cv), atol=0, rtol=0)
    with pytest.raises(ValueError, match="canvas"):
        pipe(prompt=PROMPT)


def test_num_images_per_prompt_repeats_each_prompt_and_canvas(pipe):
    cv = canvas(2)
    gens = [torch.Generator().manual_seed(k) for k in (0, 1)]
    two = _run(pipe, cv, num_images_per_prompt=2, generator=gens)
    assert two.shape[0] == 2 and not torch.allclose(two[0], two[1])
    torch.testing.assert_close(two[1:], _run(pipe, cv, generator=torch.Generator().manual_seed(1)),
                               atol=1e-5, rtol=1e-5)


def test_prompt_embeds_replace_text_encoding(pipe):
    cv = canvas(2)
    tokens, pooled = pipe.encode_text([PROMPT])
    neg_tokens, neg_pooled = pipe.encode_text(["blue"])
    a = _run(pipe, cv, true_cfg_scale=2.0, negative_prompt="blue")
    b = _run(pipe, cv, prompt=None, prompt_embeds=tokens, pooled_prompt_embeds=pooled, true_cfg_scale=2.0,
             negative_prompt_embeds=neg_tokens, negative_pooled_prompt_embeds=neg_pooled)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    with pytest.raises(ValueError, match="go together"):
        _run(pipe, cv, prompt=None, prompt_embeds=tokens)


def test_true_cfg_needs_a_negative_prompt_as_in_stock_kontext(pipe, caplog):
    cv = canvas(2)
    with Spy(pipe) as spy, caplog.at_level(logging.WARNING):
        skipped = _run(pipe, cv, true_cfg_scale=3.0, num_inference_steps=1)
    assert spy.calls[0]["hidden"][0] == 1  # no negative branch
    torch.testing.assert_close(skipped, _run(pipe, cv, num_inference_steps=1), atol=0, rtol=0)
    with Spy(pipe) as spy:
        guided = _run(pipe, cv, true_cfg_scale=3.0, negative_prompt="", num_inference_steps=1)
    assert spy.calls[0]["hidden"][0] == 2 and not torch.allclose(guided, skipped)


def test_custom_sigmas_and_per_call_sequence_length(pipe):
    cv = canvas(2)
    a = _run(pipe, cv, num_inference_steps=3, sigmas=[1.0, 0.6, 0.2])
    b = _run(pipe, cv, num_inference_steps=3)
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="descending"):
        _run(pipe, cv, num_inference_steps=2, sigmas=[0.5, 0.9])
    with Spy(pipe) as spy:
        _run(pipe, cv, num_inference_steps=1, max_sequence_length=5)
    assert spy.calls[0]["text"][1] == 5


def test_interrupt_stops_the_loop_and_state_is_exposed(pipe):
    cv = canvas(2)
    seen = []

    def stop_after_first(p, i, t, kw):
        seen.append((i, float(t), p.num_timesteps, float(p.current_timestep), p.guidance_scale))
        p._interrupt = True
        return kw

    with Spy(pipe) as spy:
        _run(pipe, cv, num_inference_steps=4, guidance_scale=2.5, callback_on_step_end=stop_after_first)
    assert len(spy.calls) == 1 and len(seen) == 1
    i, t, n, current, g = seen[0]
    assert i == 0 and n == 4 and g == 2.5 and t == pytest.approx(current) and 0 < t <= 1000
    assert pipe.current_timestep is None and not _run(pipe, cv, num_inference_steps=1).isnan().any()


def test_first_block_cache_runs_through_the_pipeline_and_skips_blocks_when_allowed(pipe):
    cv = canvas(2)

    def run(**kw):
        return pipe("a man", cv, num_inference_steps=4, output_type="pt", negative_prompt="", true_cfg_scale=2.0,
                    generator=torch.Generator().manual_seed(0), **kw).images

    plain = run()
    calls = []
    hook = pipe.transformer.single_transformer_blocks[0].attn.register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=0.0))  # never similar enough: all blocks run
        exact = run()
        ran_all = len(calls)
        pipe.transformer.disable_cache()
        pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=1e6))  # always similar: later steps skip
        calls.clear()
        skipped = run()
    finally:
        hook.remove()
        pipe.transformer.disable_cache()
    torch.testing.assert_close(exact, plain, atol=1e-6, rtol=0)
    assert ran_all == 4 and len(calls) == 1  # only the first step ran the later blocks
    assert torch.isfinite(skipped).all() and not torch.allclose(skipped, plain)
