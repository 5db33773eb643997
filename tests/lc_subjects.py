"""Tiny random SD1.5-style components (no download), as diffusers tests its SD pipelines."""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModel, PreTrainedTokenizerFast

from layercraft.canvas.types import Canvas, Category, Layer, Placement

WORDS = ["a", "photo", "of", "dog", "cat", "vase", "red", "on", "the", "beach", "and", "person", "object", "sks",
         "in", "park", "with"]


def tokenizer(max_length: int = 12) -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(["<pad>", "<unk>", "<bos>", "<eos>", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<bos>",
                                   eos_token="<eos>", model_max_length=max_length)


def unet(seed: int = 0) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    return UNet2DConditionModel(block_out_channels=(32, 32), layers_per_block=1, sample_size=16, in_channels=4,
                                out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                norm_num_groups=8, attention_head_dim=8).eval()


def sd_components(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    vae = AutoencoderKL(block_out_channels=[8, 16], in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        norm_num_groups=4).eval()
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(WORDS) + 4, hidden_size=32, intermediate_size=37,
                                        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=12,
                                        pad_token_id=0, bos_token_id=2, eos_token_id=3)).eval()
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    return {"vae": vae, "text_encoder": text, "tokenizer": tokenizer(), "unet": unet(seed), "scheduler": sched}


def image_encoder(seed: int = 0) -> CLIPVisionModel:
    torch.manual_seed(seed)
    return CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                            num_attention_heads=4, image_size=32, patch_size=8)).eval()


def blob(size: int, color: tuple[int, int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    a = np.zeros((size, size, 4), np.uint8)
    a[..., :3] = np.clip(np.asarray(color) + rng.integers(-30, 30, (size, size, 3)), 0, 255)
    yy, xx = np.mgrid[:size, :size]
    a[..., 3] = (((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 2.2) ** 2) * 255
    return Image.fromarray(a, "RGBA")


def canvas(size: int = 32) -> Canvas:
    return Canvas(width=size, height=size, prompt="a dog and a cat on the beach", layers=[
        Layer(id="dog", image=blob(12, (160, 110, 60)), placement=Placement(x=2, y=4), category=Category.object,
              descriptor="dog"),
        Layer(id="cat", image=blob(10, (40, 40, 40), 1), placement=Placement(x=18, y=16), category=Category.object,
              descriptor="cat"),
    ])
