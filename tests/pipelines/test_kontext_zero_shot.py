"""kontext_collage with stock FLUX.1 Kontext components (tiny, random, built from config) computes what
diffusers' own FluxKontextPipeline computes for the composited canvas: the zero-shot real-weights path."""

import torch
from diffusers import AutoencoderKL, FluxKontextPipeline, FluxTransformer2DModel
from lc_canvases import canvas

from layercraft.canvas import composite
from layercraft.models.text import tiny_flux_text_encoders
from layercraft.models.transformer import LayercraftFluxTransformer
from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline, default_scheduler


def _stock_components():
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


def test_kontext_collage_equals_diffusers_kontext_pipeline(tmp_path):
    parts = _stock_components()
    stock = FluxKontextPipeline(**parts, image_encoder=None, feature_extractor=None)
    stock.set_progress_bar_config(disable=True)
    cv = canvas(2, locked=(0,))
    expected = stock(image=composite(cv).convert("RGB"), prompt="a man in a park", height=32, width=32,
                     num_inference_steps=2, guidance_scale=2.5, max_sequence_length=8, output_type="pt",
                     generator=torch.Generator().manual_seed(0), _auto_resize=False, max_area=32 * 32).images

    # the stock directory loads into ours unchanged (transformer becomes LayercraftFluxTransformer)
    stock.save_pretrained(tmp_path / "kontext")
    ours = LayeredCanvasPipeline.from_pretrained(tmp_path / "kontext", max_sequence_length=8)
    ours.set_progress_bar_config(disable=True)
    assert isinstance(ours.transformer, LayercraftFluxTransformer)
    got = ours("a man in a park", cv, scheme="kontext_collage", num_inference_steps=2, guidance_scale=2.5,
               output_type="pt", generator=torch.Generator().manual_seed(0)).images
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
