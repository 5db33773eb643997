"""ControlNet residuals reach LayercraftFluxTransformer as they reach stock FLUX."""

import torch
from diffusers import FluxTransformer2DModel

from layercraft.models.transformer import LayercraftFluxTransformer


def _stock():
    torch.manual_seed(0)
    return FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=2, num_single_layers=3,
                                  attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                  pooled_projection_dim=24, axes_dims_rope=(4, 6, 6)).eval()


def _inputs(n=16):
    g = torch.Generator().manual_seed(1)
    return dict(hidden_states=torch.randn(1, n, 16, generator=g),
                encoder_hidden_states=torch.randn(1, 3, 32, generator=g),
                pooled_projections=torch.randn(1, 24, generator=g), timestep=torch.tensor([0.4]),
                img_ids=torch.zeros(n, 3), txt_ids=torch.zeros(3, 3))


def test_controlnet_residuals_match_the_stock_transformer():
    stock = _stock()
    ours = LayercraftFluxTransformer.from_stock(stock).eval()
    g = torch.Generator().manual_seed(2)
    double = [torch.randn(1, 16, 32, generator=g)]  # one residual spread over both double blocks
    single = [torch.randn(1, 16, 32, generator=g) for _ in range(3)]
    kw = dict(_inputs(), controlnet_block_samples=double, controlnet_single_block_samples=single)
    with torch.no_grad():
        expected, got = stock(**kw).sample, ours(**kw).sample
        plain = ours(**_inputs()).sample
        repeated = ours(**kw, controlnet_blocks_repeat=True).sample
        stock_repeated = stock(**kw, controlnet_blocks_repeat=True).sample
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(repeated, stock_repeated, atol=1e-5, rtol=1e-5)
    assert (got - plain).abs().max() > 1e-3
