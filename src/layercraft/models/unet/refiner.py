"""Static detail refiner (LCP sec. III-B): the frozen denoiser itself, run on the masked subject latent conditioned
on its category text, with the subject mask M_s as a key mask in every self-attention; the multi-level
self-attention outputs are returned for `LcpAdapter.aggregate_static`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .adapter import transformer_blocks
from .attend import attend, finish, merge_heads, project_query_key_value, split_heads


class _CaptureSelfAttn:
    def __init__(self, name: str, mask: torch.Tensor, latent_hw: tuple[int, int], out: dict[str, torch.Tensor]):
        self.name, self.mask, self.hw, self.out = name, mask, latent_hw, out

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **_):
        residual = hidden_states
        q, k, v = project_query_key_value(attn, hidden_states, None)
        n = q.shape[1]
        h, w = self.hw
        f = round((h * w / n) ** 0.5)
        m = F.interpolate(self.mask[:, None].float(), size=(h // f, w // f), mode="area").flatten(1) > 0  # (K, N)
        m[~m.any(1)] = True
        hd = attn.heads
        o, _ = attend(split_heads(q, hd), split_heads(k, hd), split_heads(v, hd), attn.scale, key_mask=m)
        o = finish(attn, merge_heads(o).to(q.dtype), residual)
        self.out[self.name] = o
        return o


@torch.no_grad()
def refiner_features(unet: torch.nn.Module, latents: torch.Tensor, text: torch.Tensor, mask: torch.Tensor,
                     timestep: int = 0) -> dict[str, torch.Tensor]:
    """latents (K, C, h, w) of the subjects on a blank background, text (K, T, D) category prompt states,
    mask (K, h, w) bool → {block name: (K, N_l, C_l) self-attention output}. The UNet's processors are restored."""
    saved = unet.attn_processors
    blocks = transformer_blocks(unet)
    out: dict[str, torch.Tensor] = {}
    procs = dict(saved)
    for name in blocks:
        procs[f"{name}.attn1.processor"] = _CaptureSelfAttn(name, mask, tuple(latents.shape[-2:]), out)
    unet.set_attn_processor(procs)
    try:
        t = torch.full((latents.shape[0],), timestep, device=latents.device, dtype=torch.long)
        unet(latents, t, encoder_hidden_states=text)
    finally:
        unet.set_attn_processor(saved)
    return out
