"""`embedded-v2`: the embedded architecture on the bundled learned world autoencoder — 256² images cost the same
16×16 tokens as the default's 128², through the pipeline's real-VAE path."""

import torch
from diffusers import AutoencoderKL

from layercraft.models.autoencoder import latent_geometry, world_autoencoder_dir
from layercraft.models.registry import get_spec
from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
from lc_canvases import canvas


def test_bundled_autoencoder_is_an_autoencoderkl_with_normalising_factors():
    vae = AutoencoderKL.from_pretrained(world_autoencoder_dir())
    assert latent_geometry(vae) == (8, 16)
    assert vae.config.scaling_factor != 1.0 and vae.config.shift_factor is not None


def test_embedded_v2_generates_256_images_from_16x16_tokens():
    spec = get_spec("embedded-v2")
    pipe = LayeredCanvasPipeline.from_spec("embedded-v2")
    assert isinstance(pipe.vae, AutoencoderKL) and spec.resolution == 256
    seen = []
    hook = pipe.transformer.register_forward_pre_hook(
        lambda m, a, kw: seen.append(kw["hidden_states"].shape), with_kwargs=True)
    cv = canvas(1, side=256)
    out = pipe("a person in a park", cv, num_inference_steps=1, output_type="pt", true_cfg_scale=1.0,
               canvas_cfg_scale=1.0, generator=torch.Generator().manual_seed(0)).images
    hook.remove()
    assert out.shape == (1, 3, 256, 256) and torch.isfinite(out).all()
    # 16×16 noisy tokens of 16 channels × 2×2, then the one layer's pruned condition tokens (fewer than a full grid)
    assert seen[0][2] == 64 and 16 * 16 < seen[0][1] < 2 * 16 * 16
