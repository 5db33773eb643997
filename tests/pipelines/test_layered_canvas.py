import pytest
import torch

from layercraft.canvas import CanvasError
from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
from lc_canvases import canvas


def _run(pipe, cv, **kw):
    kw.setdefault("num_inference_steps", 2)
    kw.setdefault("output_type", "pt")
    kw.setdefault("generator", torch.Generator().manual_seed(0))
    return pipe("a man and a woman in a park", cv, **kw).images


class Spy:
    """Records what the transformer receives on each call."""

    def __init__(self, pipe):
        self.calls = []
        self.pipe = pipe
        self.hook = pipe.transformer.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        assert not args, "the transformer is called by keyword"
        self.calls.append({"hidden": kwargs["hidden_states"].shape, "text": kwargs["encoder_hidden_states"].shape,
                           "img_ids": kwargs["img_ids"].clone(), "txt_ids": kwargs["txt_ids"].clone(),
                           "timestep": kwargs["timestep"].clone(), "cond": kwargs["conditioning"]})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.hook.remove()


@pytest.mark.parametrize("scheme", ["layercomposer", "anyphoto", "kontext_collage"])
def test_placed_schemes_generate_images_that_depend_on_the_canvas(pipe, scheme):
    out = _run(pipe, canvas(2, locked=(0,)), scheme=scheme)
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert not torch.allclose(out, _run(pipe, canvas(1), scheme=scheme), atol=1e-4)  # the canvas reaches the image


def test_each_scheme_gives_its_own_condition_ids(pipe):
    """LayerComposer: locked layer at index 0, the unlocked one at 1; AnyPhoto: every layer at 1; Kontext: one
    collage segment at 1 covering the whole grid; cell coordinates = the noisy latent's."""
    cv = canvas(2, locked=(0,))
    seen = {}
    for scheme in ("layercomposer", "anyphoto", "kontext_collage"):
        with Spy(pipe) as spy:
            _run(pipe, cv, scheme=scheme, num_inference_steps=1)
        call = spy.calls[0]
        seen[scheme] = (call["img_ids"][64:], call["cond"].segment[0])
    ids, seg = seen["layercomposer"]
    assert set(ids[seg == 0, 0].tolist()) == {0.0} and set(ids[seg == 1, 0].tolist()) == {1.0}
    ids, seg = seen["anyphoto"]
    assert set(ids[:, 0].tolist()) == {1.0} and set(seg.tolist()) == {0, 1}
    ids, seg = seen["kontext_collage"]
    assert ids.shape[0] == 64 and set(ids[:, 0].tolist()) == {1.0} and set(seg.tolist()) == {0}
    noisy = torch.stack(torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij"), -1).reshape(-1, 2)
    torch.testing.assert_close(ids[:, 1:], noisy)  # the collage's cells sit on the noisy latent's cells


def test_one_for_all_with_ccpa_puts_descriptors_at_block_centres(pipe):
    cv = canvas(2, placed=False, descriptors=True)
    with Spy(pipe) as spy:
        out = _run(pipe, cv, scheme="one_for_all", num_inference_steps=1, ccpa_tokens=4)
    assert out.shape == (1, 3, 32, 32)
    call = spy.calls[0]
    t = pipe.config.max_sequence_length
    assert call["text"][1] == t + 2 * 4  # prompt + two descriptors of 4 tokens
    txt_ids = call["txt_ids"][0]  # (T + 8, 3): per-sample ids
    assert (txt_ids[:t] == 0).all()
    # face (id 1) on an 8×8 grid with an 8×8 reference: (1, 8 + 1·8/2, 8 + 1·8/2) = (1, 12, 12)
    assert txt_ids[t].tolist() == [1.0, 12.0, 12.0]
    with Spy(pipe) as spy:
        _run(pipe, cv, scheme="one_for_all", num_inference_steps=1, ccpa=False)
    assert spy.calls[0]["text"][1] == t


def test_pruning_lock_ids_and_isolation_switches_reach_the_transformer(pipe):
    cv = canvas(2, locked=(0,))
    with Spy(pipe) as spy:
        _run(pipe, cv, num_inference_steps=1)
        _run(pipe, cv, num_inference_steps=1, prune=False)
        _run(pipe, cv, num_inference_steps=1, lock_ids=False)
        _run(pipe, cv, num_inference_steps=1, scheme="anyphoto")
        _run(pipe, cv, num_inference_steps=1, scheme="anyphoto", isolation=False)
    pruned, full, unlocked, iso, no_iso = spy.calls
    n_noisy = 64
    assert full["hidden"][1] == n_noisy + 2 * 64  # every layer's whole grid
    assert n_noisy < pruned["hidden"][1] < full["hidden"][1]
    first = pruned["img_ids"][n_noisy:]
    assert (first[: pruned["cond"].segment[0].eq(0).sum(), 0] == 0).all()  # locked layer at index 0
    assert (unlocked["img_ids"][n_noisy:][: unlocked["cond"].segment[0].eq(0).sum(), 0] == 1).all()
    assert pruned["cond"].attention_mask is None and no_iso["cond"].attention_mask is None
    m = iso["cond"].attention_mask[0, 0]
    seg = iso["cond"].segment[0]
    start = m.shape[0] - seg.numel()
    a, b = start + torch.nonzero(seg == 0)[0, 0], start + torch.nonzero(seg == 1)[0, 0]
    assert not m[a, b] and not m[b, a] and m[a, a] and m[a, 0]


def test_modulation_dam_and_cache_switches(pipe):
    cv = canvas(2)
    emb = [{"l0": torch.randn(8), "l1": torch.randn(8)}]
    with Spy(pipe) as spy:
        _run(pipe, cv, scheme="anyphoto", modulation=True, identity_embeds=emb, dam=True, cache=True,
             num_inference_steps=3)
    first, second, third = spy.calls
    c = first["cond"]
    assert c.dam and c.timestep_free and c.identity_embeds.shape == (1, 2, 8) and c.identity_valid.all()
    assert c.attention_mask is not None and c.kv_cache is not None
    assert second["hidden"][1] == 64 and third["hidden"][1] == 64  # later steps reuse the cached conditions
    assert first["hidden"][1] > 64


def test_cache_is_exact_when_the_mask_is_cacheable(pipe):
    """Cache on vs off with the same cacheable mask and timestep-free modulation: same images."""
    cv = canvas(2)
    cached = _run(pipe, cv, cache=True, num_inference_steps=3)
    orig = pipe.transformer.forward

    def no_cache(*args, conditioning=None, **kwargs):
        conditioning.kv_cache = None
        return orig(*args, conditioning=conditioning, **kwargs)

    pipe.transformer.forward = no_cache
    try:
        uncached = _run(pipe, cv, cache=True, num_inference_steps=3)
    finally:
        del pipe.transformer.forward
    torch.testing.assert_close(cached, uncached, atol=1e-5, rtol=1e-5)


def test_ragged_batch_matches_canvases_run_alone(pipe):
    cvs = [canvas(1), canvas(3, locked=(1,))]
    g = torch.Generator().manual_seed(3)
    latents = torch.randn(2, 64, 48, generator=g)
    batched = pipe(["a man", "three people"], cvs, latents=latents, num_inference_steps=2, output_type="pt").images
    for i, cv in enumerate(cvs):
        alone = pipe(["a man", "three people"][i], cv, latents=latents[i : i + 1], num_inference_steps=2,
                     output_type="pt").images
        torch.testing.assert_close(batched[i : i + 1], alone, atol=1e-4, rtol=1e-4)


def test_true_cfg_extrapolates_away_from_the_negative_prompt(pipe):
    """One Euler step from the same noise: latents are affine in the scale, x(s) = x(1) + (s − 1)·Δσ·(v₊ − v₋), so
    the sign and size of the guidance term are checked, and the negative branch really reads the negative prompt."""
    cv = canvas(2)
    one = dict(num_inference_steps=1, output_type="latent")
    base = _run(pipe, cv, **one)
    two = _run(pipe, cv, true_cfg_scale=2.0, negative_prompt="blue", **one)
    three = _run(pipe, cv, true_cfg_scale=3.0, negative_prompt="blue", **one)
    assert not torch.allclose(two, base)
    torch.testing.assert_close(three - base, 2 * (two - base), atol=1e-4, rtol=1e-3)
    # negative prompt = the prompt: both branches agree, the guidance term vanishes
    same = _run(pipe, cv, true_cfg_scale=3.0, negative_prompt="a man and a woman in a park", **one)
    torch.testing.assert_close(same, base, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kwargs", [dict(), dict(scheme="anyphoto", cache=True), dict(canvas_cfg_scale=2.0)])
def test_batched_guidance_branches_equal_separate_calls(pipe, kwargs):
    """Prompt and negative prompt share one stacked transformer call by default; the images match one call per
    branch, and the batched run makes fewer calls."""
    cv = canvas(2, locked=(0,))
    runs = {}
    for batch in (True, False):
        with Spy(pipe) as spy:
            runs[batch] = _run(pipe, cv, true_cfg_scale=3.0, negative_prompt="blue", batch_guidance=batch,
                               num_inference_steps=3, **kwargs)
        runs[batch, "calls"] = spy.calls
    torch.testing.assert_close(runs[True], runs[False], atol=1e-5, rtol=1e-5)
    per_step = 2 if "canvas_cfg_scale" in kwargs else 1
    assert len(runs[True, "calls"]) == 3 * per_step and len(runs[False, "calls"]) == 3 * (per_step + 1)
    assert runs[True, "calls"][0]["hidden"][0] == 2  # positive and negative stacked



def test_canvas_cfg_extrapolates_away_from_the_empty_canvas_branch(pipe):
    cv = canvas(2, locked=(0,))
    one = dict(num_inference_steps=1, output_type="latent")  # one Euler step: latents are affine in the scale
    base = _run(pipe, cv, **one)
    torch.testing.assert_close(_run(pipe, cv, canvas_cfg_scale=1.0, **one), base, atol=0, rtol=0)
    with Spy(pipe) as spy:
        two = _run(pipe, cv, canvas_cfg_scale=2.0, **one)
    assert len(spy.calls) == 2 and spy.calls[1]["hidden"][1] < spy.calls[0]["hidden"][1]  # no condition tokens
    three = _run(pipe, cv, canvas_cfg_scale=3.0, **one)
    assert not torch.allclose(two, base)
    torch.testing.assert_close(three - base, 2 * (two - base), atol=1e-4, rtol=1e-3)
    # with nothing on the canvas the two branches agree, so the guidance term vanishes
    empty = canvas(0)
    torch.testing.assert_close(_run(pipe, empty, canvas_cfg_scale=3.0, **one), _run(pipe, empty, **one),
                               atol=1e-5, rtol=1e-5)
    # composed with true CFG: three branches per step (prompt and negative prompt in one stacked call)
    with Spy(pipe) as spy:
        _run(pipe, cv, canvas_cfg_scale=2.0, true_cfg_scale=2.0, negative_prompt="", batch_guidance=False, **one)
    assert len(spy.calls) == 3


@pytest.mark.parametrize("kwargs", [dict(cache=True), dict(scheme="one_for_all"), dict(scheme="kontext_collage"),
                                    dict(scheme="anyphoto", isolation=True)])
def test_canvas_cfg_works_with_every_scheme_and_the_condition_cache(pipe, kwargs):
    cv = canvas(2, locked=(0,), placed=kwargs.get("scheme") != "one_for_all")
    plain = _run(pipe, cv, true_cfg_scale=2.0, negative_prompt="", **kwargs)
    guided = _run(pipe, cv, true_cfg_scale=2.0, negative_prompt="", canvas_cfg_scale=2.0, **kwargs)
    assert torch.isfinite(guided).all() and not torch.allclose(plain, guided)


def test_callback_can_replace_latents(pipe):
    seen = []

    def cb(p, i, t, kw):
        seen.append(i)
        return {"latents": torch.zeros_like(kw["latents"])}

    out = _run(pipe, canvas(1), output_type="latent", callback_on_step_end=cb)
    assert seen == [0, 1] and out.abs().max() == 0


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(scheme="nope"), ValueError, "unknown scheme"),
    (dict(num_inference_steps=0), ValueError, "num_inference_steps"),
    (dict(guidance_scale=float("nan")), ValueError, "guidance_scale"),
    (dict(true_cfg_scale=0.5), ValueError, "true_cfg_scale"),
    (dict(canvas_cfg_scale=float("inf")), ValueError, "canvas_cfg_scale"),
    (dict(height=64), ValueError, "differs from the canvas size"),
    (dict(modulation=True), ValueError, "identity_embeds"),
    (dict(output_type="jpeg"), ValueError, "output_type"),
    (dict(scheme="kontext_collage", cache=True), ValueError, "cacheable"),
])
def test_invalid_inputs_fail_before_any_model_runs(pipe, kwargs, error, match):
    with Spy(pipe) as spy, pytest.raises(error, match=match):
        _run(pipe, canvas(1), **kwargs)
    assert not spy.calls


def test_invalid_canvas_and_prompt_count(pipe):
    with pytest.raises(CanvasError, match="stride"):
        _run(pipe, canvas(1, side=30))
    with pytest.raises(ValueError, match="2 prompts for 1 canvases"):
        pipe(["a", "b"], canvas(1), num_inference_steps=1)
    with pytest.raises(ValueError, match="unplaced"):
        _run(pipe, canvas(1, placed=False), scheme="layercomposer")


def test_save_and_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "p")
    again = LayeredCanvasPipeline.from_pretrained(tmp_path / "p")
    again.set_progress_bar_config(disable=True)
    assert type(again.transformer).__name__ == "LayercraftFluxTransformer"
    assert again.config.max_sequence_length == pipe.config.max_sequence_length
    torch.testing.assert_close(_run(again, canvas(2)), _run(pipe, canvas(2)))
    assert again.text_encoder.pooler is None  # saved without a pooler, loaded without one (no fresh random weights)
