"""Tiny stock FLUX.1 Kontext components (random, built from config): what a real Kontext snapshot holds, small."""

import torch
from diffusers import AutoencoderKL, FluxTransformer2DModel

from layercraft.models.text import tiny_flux_text_encoders
from layercraft.pipelines.layered_canvas import default_scheduler


def stock_components():
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                                         attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=24, guidance_embeds=True, axes_dims_rope=(4, 6, 6))
    vae = AutoencoderKL(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4, 8),
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        layers_per_block=1, latent_channels=4, norm_num_groups=1, use_quant_conv=False,
                        use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035)
    return {"transformer": transformer.eval(), "vae": vae.eval(), "scheduler": default_scheduler(),
            **tiny_flux_text_encoders(32, 24)}
