"""Subject conditioning of LCP-Diffusion on the Flux path: c_d from the DA-Encoder, c_s from the static detail
refiner (the frozen transformer itself, run on the masked subject with its category prompt at σ = 0, image-stream
features captured after every double block's attention), and grounding tokens g from the layout-aware module."""

from __future__ import annotations

from typing import Any

import torch

from ...conditioning import noisy_ids
from ...models.flux_ext.adapter import LcpFluxAdapter, LcpFluxState
from .flux_common import image_latents, sequence_tokenizer
from .sd_common import clip_grid_features, resize_masks
from .subjects import Subject


@torch.no_grad()
def refiner_levels(pipe: Any, latents: torch.Tensor, prompts: list[str], grid: tuple[int, int]) -> list[torch.Tensor]:
    """The frozen transformer on packed (masked) latents (K, L, C·4) → image-stream features per double block
    [(K, L, D)], read by an `image_hook` right after each block's joint-attention residual."""
    tr = pipe.transformer
    index = {id(b): i for i, b in enumerate(tr.transformer_blocks)}
    feats: list[torch.Tensor | None] = [None] * len(index)

    def capture(block: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        feats[index[id(block)]] = hidden
        return hidden

    text, pooled = pipe.encode_text(prompts)
    k = latents.shape[0]
    guidance = torch.full((k,), 1.0, device=latents.device) if tr.config.guidance_embeds else None
    tr(latents, text, pooled, torch.zeros(k, device=latents.device, dtype=latents.dtype),
       noisy_ids(grid).to(latents.device), torch.zeros(text.shape[1], 3, device=latents.device), guidance,
       {"image_hook": capture})
    return feats


@torch.no_grad()
def entity_embeddings(pipe: Any, words: list[str]) -> torch.Tensor:
    """c_e: the mean sequence-encoder state over each phrase's own tokens → (K, D_text)."""
    states, _ = pipe.encode_text(words)  # (K, T, D)
    enc = sequence_tokenizer(pipe)(words, padding="max_length", truncation=True,
                                   max_length=pipe.config.max_sequence_length, return_tensors="pt")
    w = enc.attention_mask.to(states.device)[..., None].to(states.dtype)
    return (states * w).sum(1) / w.sum(1).clamp(min=1)


def subject_state(pipe: Any, adapter: LcpFluxAdapter, subjects: list[Subject], size: tuple[int, int], n_noisy: int,
                  static_scale: float = 1.0, dynamic_scale: float = 1.0, grounding_scale: float = 1.0,
                  use_static: bool = True, use_grounding: bool = True) -> LcpFluxState:
    """c_d, c_s (+ M_s) and g for one canvas (all subjects concatenated along tokens). The frozen parts run
    without gradients; the adapter's parts keep theirs (training)."""
    dev = pipe._execution_device
    state = LcpFluxState(n_noisy, dynamic_scale=dynamic_scale, static_scale=static_scale,
                         grounding_scale=grounding_scale)
    encoder = getattr(pipe, "image_encoder", None)
    if encoder is not None:
        cd = adapter.dynamic_features(clip_grid_features(encoder, [s.image for s in subjects]).to(dev))  # (K, Q, D)
        state.dynamic_tokens = cd.reshape(1, -1, cd.shape[-1])
    if not (use_static or use_grounding):
        return state
    grid = (size[1] // pipe.stride, size[0] // pipe.stride)
    masks = torch.cat([resize_masks([s.own_mask], grid) for s in subjects]).to(dev)  # (K, h, w)
    lat = image_latents(pipe, [s.image for s in subjects], size)  # (K, L, C·4)
    lat = lat * masks.flatten(1)[..., None].to(lat.dtype)
    levels = refiner_levels(pipe, lat, [f"a {s.category.value.replace('_', ' ')}" for s in subjects], grid)
    cs, ms = adapter.aggregate_static(levels, masks, grid)  # (K, S, D_s), (K, S)
    if use_static:
        state.static_tokens, state.static_mask = cs.reshape(1, -1, cs.shape[-1]), ms.reshape(1, -1)
    if use_grounding:
        boxes = torch.tensor([s.box for s in subjects], device=dev)
        state.grounding_tokens = adapter.grounding_tokens(cs, ms, entity_embeddings(pipe, [s.words for s in subjects]),
                                                          boxes)
    return state
