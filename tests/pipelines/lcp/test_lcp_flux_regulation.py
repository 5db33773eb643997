import torch

from layercraft.denoise import velocity
from layercraft.models.flux_ext import TextAttentionProbe
from layercraft.models.lcp.regulation import box_masks
from layercraft.pipelines.lcp import canvas_subjects
from layercraft.pipelines.lcp.flux_common import subject_token_index
from lc_flux import PROMPT, flux_inputs, flux_pipe


def _latents(pipe, inputs, seed=0):
    c = pipe.transformer.config.in_channels
    return torch.randn(1, inputs.n_noisy, c, generator=torch.Generator().manual_seed(seed))


def test_probe_rows_sum_to_one_and_leave_the_output_unchanged():
    pipe = flux_pipe()
    _, inputs = flux_inputs(pipe)
    x, s = _latents(pipe, inputs), torch.tensor(0.7)
    t = inputs.text.shape[1]
    n_keys = t + inputs.n_noisy + inputs.cond_tokens.shape[1]
    probe = TextAttentionProbe(torch.arange(n_keys), t, inputs.n_noisy)  # every key column
    with torch.no_grad():
        plain = velocity(pipe.transformer, inputs, x, s, inputs.conditioning())
        probed = velocity(pipe.transformer, inputs, x, s, inputs.conditioning(),
                          joint_attention_kwargs={"probe": probe})
    assert torch.equal(plain, probed)
    n_layers = len(pipe.transformer.transformer_blocks) + len(pipe.transformer.single_transformer_blocks)
    assert len(probe.maps) == n_layers
    for m in probe.maps:
        assert m.shape == (1, inputs.n_noisy, n_keys)
        torch.testing.assert_close(m.sum(-1), torch.ones(1, inputs.n_noisy))
    text_mass = probe.mean_map()[..., :t].sum(-1)  # the image→text share is a proper part of each row
    assert (text_mass > 0).all() and (text_mass < 1).all()


def test_subject_tokens_come_from_the_layer_descriptors():
    pipe = flux_pipe()
    cv, _ = flux_inputs(pipe)
    idx = subject_token_index(pipe, PROMPT, canvas_subjects(cv))
    assert idx.tolist() == [1, 4]  # "a dog and a cat ..."
    assert subject_token_index(pipe, PROMPT, canvas_subjects(cv), {"dog": [6]}).tolist() == [6, 4]


def test_box_regulation_raises_in_box_attention_mass():
    pipe = flux_pipe()
    cv, inputs = flux_inputs(pipe)
    subjects = canvas_subjects(cv)
    idx = subject_token_index(pipe, PROMPT, subjects)
    boxes = torch.tensor([s.box for s in subjects])
    grid = (8, 8)
    masks = box_masks(boxes, grid).flatten(1)  # (K, L)
    cond, s = inputs.conditioning(), torch.tensor(0.9)

    def in_box(z):
        probe = TextAttentionProbe(idx, inputs.text.shape[1], inputs.n_noisy)
        with torch.no_grad():
            velocity(pipe.transformer, inputs, z, s, cond, joint_attention_kwargs={"probe": probe})
        a = probe.mean_map()[0].T  # (K, L)
        return ((a * masks).sum(-1) / a.sum(-1)).mean().item()

    z = _latents(pipe, inputs)
    z_reg = pipe.regulated(inputs, z, s, idx, boxes, grid, alpha=1.0, eta=200.0, iterations=3,
                           scale_weight=1.0, kwargs={})
    before, after = in_box(z), in_box(z_reg)
    assert after > before + 0.02, (before, after)


def test_pipeline_regulation_switch():
    pipe = flux_pipe()
    cv, _ = flux_inputs(pipe)

    def run(**kw):
        return pipe(PROMPT, cv, num_inference_steps=2, generator=torch.Generator().manual_seed(0),
                    output_type="latent", regulation_steps=1, **kw).images

    off = run(regulation=False)
    assert torch.equal(off, run(regulation_scale=0.0))
    on = run(regulation=True, regulation_scale=50.0)
    assert on.shape == off.shape and torch.isfinite(on).all() and not torch.allclose(on, off)
