"""Pieces shared by the Flux-family pipelines of LCP-Diffusion and Layout-and-Retouch: packed latents of images,
subject tokens in the sequence encoder's prompt, and the box-regulation loss on probed maps."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from ...conditioning import pack
from ...models.autoencoder import to_latents
from ...models.flux_ext.probe import TextAttentionProbe
from ...models.lcp.regulation import box_loss
from .sd_common import to_tensor
from .subjects import Subject
from .tokens import find_subject_tokens


@torch.no_grad()
def image_latents(pipe: Any, images: list[Image.Image], size: tuple[int, int]) -> torch.Tensor:
    """PIL images → packed normalised latents (B, L, C·4) at canvas size (W, H)."""
    z = to_latents(pipe.vae, to_tensor(images, size).to(pipe._execution_device))  # (B, C, h, w)
    return torch.stack([pack(x) for x in z]).to(pipe.transformer.dtype)


def sequence_tokenizer(pipe: Any) -> Any:
    """The tokenizer whose tokens become the transformer's text sequence (T5 for FLUX, else the single one)."""
    return pipe.tokenizer_2 if getattr(pipe, "text_encoder_2", None) is not None else pipe.tokenizer


def subject_token_index(pipe: Any, prompt: str, subjects: list[Subject],
                        overrides: dict[str, str | list[int]] | None = None) -> torch.Tensor:
    """One text position per subject (the last token of its descriptor run, the head noun) → (K,)."""
    tok, n = sequence_tokenizer(pipe), pipe.config.max_sequence_length
    idx = []
    for s in subjects:
        words = (overrides or {}).get(s.layer_id, s.words)
        idx.append(find_subject_tokens(tok, prompt, words, (s.category.value.replace("_", " "),), n)[-1])
    return torch.tensor(idx)


def probe_box_loss(probe: TextAttentionProbe, boxes: torch.Tensor, grid: tuple[int, int],
                   scale_weight: float = 1.0) -> torch.Tensor:
    """L_pos + L_scale (eq. 5-7) averaged over the probed layers; grid = (h, w) of the noisy tokens."""
    return box_loss({"joint": probe.maps}, boxes.to(probe.maps[0].device) if probe.maps else boxes,
                    aspect=grid[0] / grid[1], scale_weight=scale_weight)
