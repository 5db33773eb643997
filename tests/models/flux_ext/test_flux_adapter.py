import torch

from layercraft.denoise import velocity
from layercraft.models.flux_ext import LcpFluxAdapter, LcpFluxState
from layercraft.pipelines.lcp import canvas_subjects
from layercraft.pipelines.lcp.flux_state import subject_state
from lc_flux import PROMPT, flux_inputs, flux_pipe
from lc_subjects import image_encoder


def _setup():
    pipe = flux_pipe()
    pipe.image_encoder = image_encoder()
    torch.manual_seed(0)
    adapter = LcpFluxAdapter.for_transformer(pipe.transformer, image_dim=32, static_dim=16, num_queries=4,
                                             resampler_dim=16, resampler_depth=1, resampler_heads=2,
                                             grounding_dim=16, layout_hidden=16, refiner_grid=4)
    cv, inputs = flux_inputs(pipe)
    state = subject_state(pipe, adapter, canvas_subjects(cv), (32, 32), inputs.n_noisy)
    x = torch.randn(1, inputs.n_noisy, 48, generator=torch.Generator().manual_seed(0))
    return pipe, adapter, inputs, state, x


def _v(pipe, inputs, x, kwargs):
    with torch.no_grad():
        return velocity(pipe.transformer, inputs, x, torch.tensor(0.6), inputs.conditioning(),
                        joint_attention_kwargs=kwargs)


def test_subject_state_shapes():
    _, _, inputs, st, _ = _setup()
    assert st.dynamic_tokens.shape == (1, 2 * 4, 32)  # two subjects × N queries, text width
    assert st.static_tokens.shape == (1, 2 * 16, 16) and st.static_mask.shape == (1, 32)
    assert st.grounding_tokens.shape == (1, 4, 16)  # static + entity token per subject
    assert st.n_noisy == inputs.n_noisy == 64


def test_zero_gate_zero_mu_and_zero_scale_leave_the_output_unchanged():
    pipe, adapter, inputs, st, x = _setup()
    base = _v(pipe, inputs, x, None)
    # fresh adapter: μ = 0 and tanh(γ = 0) = 0 → static and grounding attention add nothing
    only_hooks = LcpFluxState(st.n_noisy, static_tokens=st.static_tokens, static_mask=st.static_mask,
                              grounding_tokens=st.grounding_tokens)
    torch.testing.assert_close(_v(pipe, inputs, x, adapter.attention_kwargs(pipe.transformer, only_hooks)), base,
                               atol=0, rtol=0)
    zero_dyn = LcpFluxState(st.n_noisy, dynamic_tokens=st.dynamic_tokens, dynamic_scale=0.0)
    torch.testing.assert_close(_v(pipe, inputs, x, adapter.attention_kwargs(pipe.transformer, zero_dyn)), base,
                               atol=0, rtol=0)
    # and each term does act once switched on
    dyn = LcpFluxState(st.n_noisy, dynamic_tokens=st.dynamic_tokens, dynamic_scale=1.0)
    assert not torch.allclose(_v(pipe, inputs, x, adapter.attention_kwargs(pipe.transformer, dyn)), base, atol=1e-5)
    for i in range(len(adapter.grounding)):
        adapter.grounding[i].gate.data.fill_(1.0)
    gated = _v(pipe, inputs, x, adapter.attention_kwargs(pipe.transformer, only_hooks))
    assert not torch.allclose(gated, base, atol=1e-5)
    adapter.static[0].mu.data.fill_(1.0)
    assert not torch.allclose(_v(pipe, inputs, x, adapter.attention_kwargs(pipe.transformer, only_hooks)), gated,
                              atol=1e-5)


def test_pipeline_with_adapter_and_regulation_runs():
    pipe, adapter, _, _, _ = _setup()
    pipe.lcp_adapter = adapter
    cv, _ = flux_inputs(pipe)
    for i in range(len(adapter.grounding)):
        adapter.grounding[i].gate.data.fill_(0.5)
    out = pipe(PROMPT, cv, num_inference_steps=2, regulation_steps=1, output_type="np",
               generator=torch.Generator().manual_seed(0)).images
    assert out.shape == (1, 32, 32, 3)
