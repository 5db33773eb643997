"""Pieces shared by the SD1.5-style UNet pipelines: prompt encoding, image ↔ latent, CLIP image features."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@torch.no_grad()
def encode_prompts(tokenizer, text_encoder, prompts: list[str], device: torch.device) -> torch.Tensor:
    """prompts → CLIP token states (B, T, D), T = tokenizer.model_max_length (SD convention)."""
    ids = tokenizer(prompts, padding="max_length", truncation=True, max_length=tokenizer.model_max_length,
                    return_tensors="pt").input_ids
    return text_encoder(ids.to(device))[0]


@torch.no_grad()
def encode_words(tokenizer, text_encoder, words: list[str], device: torch.device) -> torch.Tensor:
    """Entity embeddings c_e: mean token state over each phrase's own tokens (K, D)."""
    enc = tokenizer(words, padding="max_length", truncation=True, max_length=tokenizer.model_max_length,
                    return_tensors="pt")
    states = text_encoder(enc.input_ids.to(device))[0]  # (K, T, D)
    w = enc.attention_mask.to(device)[..., None].to(states.dtype)
    return (states * w).sum(1) / w.sum(1).clamp(min=1)


def to_tensor(images: list[Image.Image], size: tuple[int, int]) -> torch.Tensor:
    """PIL images → (B, 3, H, W) in [-1, 1] at size (W, H)."""
    arr = np.stack([np.asarray(im.convert("RGB").resize(size, Image.Resampling.BICUBIC)) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1


@torch.no_grad()
def encode_images(vae, images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] → scaled latents (B, C, H/f, W/f) (posterior mean)."""
    lat = vae.encode(images.to(vae.device, vae.dtype)).latent_dist.mode()
    return lat * vae.config.scaling_factor


@torch.no_grad()
def decode_latents(vae, latents: torch.Tensor) -> torch.Tensor:
    return vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor, return_dict=False)[0]


@torch.no_grad()
def clip_grid_features(image_encoder, images: list[Image.Image]) -> torch.Tensor:
    """Unpooled penultimate-layer CLIP vision features (patch tokens + CLS) (B, P + 1, D)."""
    size = image_encoder.config.image_size
    x = (to_tensor(images, (size, size)) + 1) / 2
    mean = torch.tensor(CLIP_MEAN)[:, None, None]
    std = torch.tensor(CLIP_STD)[:, None, None]
    x = ((x - mean) / std).to(image_encoder.device, image_encoder.dtype)
    return image_encoder(pixel_values=x, output_hidden_states=True).hidden_states[-2]


def resize_masks(masks: list[np.ndarray], hw: tuple[int, int]) -> torch.Tensor:
    """(H, W) bool masks → (K, h, w) bool by area coverage ≥ 0.5."""
    t = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]
    return F.interpolate(t, size=hw, mode="area")[:, 0] >= 0.5
