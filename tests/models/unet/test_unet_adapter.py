import torch

from layercraft.models.lcp.fourier import fourier_box_embedding
from layercraft.models.lcp.grounding import GroundingAttention
from layercraft.models.lcp.resampler import PerceiverResampler
from layercraft.models.unet import LcpAdapter, LcpCallState
from lc_subjects import unet


def _adapter(u):
    return LcpAdapter.for_unet(u, image_dim=32, static_dim=32, num_queries=4, resampler_dim=32, resampler_heads=4,
                               grounding_dim=32, num_freqs=4, layout_hidden=32, refiner_grid=4)


def test_tanh_gate_at_zero_leaves_block_input_unchanged():
    torch.manual_seed(0)
    g = GroundingAttention(32, 16, 4)
    z, tokens = torch.randn(2, 10, 32), torch.randn(1, 3, 16)
    assert torch.equal(g(z, tokens), z)
    with torch.no_grad():
        g.gate.fill_(0.5)
    assert not torch.allclose(g(z, tokens), z)


def _run(u, state=None, gligen=None):
    torch.manual_seed(1)
    x, ctx = torch.randn(2, 4, 16, 16), torch.randn(2, 12, 32)
    kw = {"lcp": state} if state is not None else {}
    if gligen is not None:
        kw["gligen"] = gligen
    with torch.no_grad():
        return u(x, torch.tensor([10, 500]), encoder_hidden_states=ctx, cross_attention_kwargs=kw or None).sample


def test_fresh_adapter_with_zero_gates_and_mu_leaves_the_unet_output_unchanged():
    u = unet()
    base = _run(u)
    adapter = _adapter(u)
    adapter.install(u)
    state = LcpCallState(static_tokens=torch.randn(1, 16, 32), static_mask=torch.ones(1, 16, dtype=torch.bool))
    gligen = {"tokens": torch.randn(1, 4, 32), "beta": 1.0}
    torch.testing.assert_close(_run(u, state, gligen), base, atol=1e-5, rtol=1e-5)
    # the same inputs do change the output once μ and γ move off zero, and dynamic tokens always do (λ = 1)
    with torch.no_grad():
        for m in adapter.static.values():
            m.mu.fill_(1.0)
        for m in adapter.grounding.values():
            m.gate.fill_(1.0)
    assert not torch.allclose(_run(u, state, gligen), base, atol=1e-4)
    LcpAdapter.uninstall(u)
    torch.testing.assert_close(_run(u), base, atol=1e-5, rtol=1e-5)


def test_dynamic_attention_is_decoupled_and_scaled():
    u = unet()
    base = _run(u)
    _adapter(u).install(u)
    cd = torch.randn(1, 4, 32)
    zero = _run(u, LcpCallState(dynamic_tokens=cd, dynamic_scale=0.0))
    torch.testing.assert_close(zero, base, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(_run(u, LcpCallState(dynamic_tokens=cd, dynamic_scale=1.0)), base, atol=1e-4)


def test_adapter_save_load_round_trip(tmp_path):
    u = unet()
    a = _adapter(u)
    with torch.no_grad():
        a.static[next(iter(a.static.keys()))].mu.fill_(0.3)
    a.save_pretrained(tmp_path / "adapter")
    b = LcpAdapter.from_pretrained(tmp_path / "adapter")
    assert b.config.block_names == a.config.block_names
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_resampler_and_fourier_shapes():
    r = PerceiverResampler(24, 32, num_queries=5, dim=16, depth=4, heads=2)
    assert len(r.blocks) == 4
    assert r(torch.randn(3, 17, 24)).shape == (3, 5, 32)
    e = fourier_box_embedding(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), num_freqs=3)
    assert e.shape == (1, 24) and e[0, 1] == 1.0  # cos(0) for x0 at the lowest frequency
