"""kontext_collage with stock FLUX.1 Kontext components (tiny, random, built from config) computes what
diffusers' own FluxKontextPipeline computes for the composited canvas: the zero-shot real-weights path."""

import torch
from diffusers import FluxKontextPipeline
from lc_kontext import stock_components

from layercraft.canvas import composite
from layercraft.models.transformer import LayercraftFluxTransformer
from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
from lc_canvases import canvas


def test_kontext_collage_equals_diffusers_kontext_pipeline(tmp_path):
    parts = stock_components()
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
