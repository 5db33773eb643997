"""Multi-source attention swap (Layout-and-Retouch Algorithm 1) as UNet attention processors.

The UNet runs the three paths as one batch [reference; layout; target] (each of size B). For the target:
- early steps (`state.early`): self- and cross-attention use Q, K, V of the layout path (lines 9-10);
- late steps: self-attention keeps the target's Q with the reference path's K, V, and its output φ_t is blended
  with the layout path's φ_l by the adaptive mask: φ* = M ⊙ φ_t + (1 − M) ⊙ φ_l (line 12, sec. 3.2.2).
Cross-attention maps of chosen tokens on the layout path are recorded for the cross-attention mask M^C.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .attend import attend, finish, merge_heads, project_query_key_value, split_heads
from .processors import AttentionStore


@dataclass
class SwapState:
    early: bool = True
    mask: torch.Tensor | None = None  # (B, H, W) blend mask M in [0, 1] at any resolution
    latent_hw: tuple[int, int] = (64, 64)
    store: AttentionStore | None = None  # layout-path cross-attention maps


class SwapSelfAttnProcessor:
    def __init__(self, name: str, state: SwapState):
        self.name, self.state = name, state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **_):
        residual = hidden_states
        q, k, v = (split_heads(x, attn.heads) for x in project_query_key_value(attn, hidden_states, None))
        out, _ = attend(q, k, v, attn.scale)  # (3B, H, N, Dh): each path on itself
        b = q.shape[0] // 3
        ref, lay, tgt = slice(0, b), slice(b, 2 * b), slice(2 * b, 3 * b)
        out = out.clone()
        if self.state.early:
            out[tgt] = out[lay]  # Q, K, V from the layout path
        else:
            out[tgt], _ = attend(q[tgt], k[ref], v[ref], attn.scale)  # reference K, V
            if self.state.mask is not None:
                n = q.shape[2]
                h, w = self.state.latent_hw
                f = round((h * w / n) ** 0.5)
                m = F.interpolate(self.state.mask[:, None].to(out.dtype), size=(h // f, w // f), mode="bilinear",
                                  align_corners=False).flatten(1)[:, None, :, None]  # (B, 1, N, 1)
                out[tgt] = m * out[tgt] + (1 - m) * out[lay]
        return finish(attn, merge_heads(out).to(q.dtype), residual)


class SwapCrossAttnProcessor:
    def __init__(self, name: str, state: SwapState):
        self.name, self.state = name, state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **_):
        residual = hidden_states
        q, k, v = (split_heads(x, attn.heads)
                   for x in project_query_key_value(attn, hidden_states, encoder_hidden_states))
        store = self.state.store
        want = store is not None and store.wants(self.name)
        out, probs = attend(q, k, v, attn.scale, want_probs=want)
        b = q.shape[0] // 3
        if want:
            store.add(self.name, probs[b : 2 * b])
        if self.state.early:
            out = out.clone()
            out[2 * b :] = out[b : 2 * b]  # cross-attention Q, K, V from the layout path
        return finish(attn, merge_heads(out).to(q.dtype), residual)


def install_swap(unet: torch.nn.Module, state: SwapState) -> dict:
    """Swap processors on every attn1/attn2 of the UNet's transformer blocks; returns the previous processors."""
    from .adapter import transformer_blocks

    saved = unet.attn_processors
    procs = dict(saved)
    for name in transformer_blocks(unet):
        procs[f"{name}.attn1.processor"] = SwapSelfAttnProcessor(f"{name}.attn1", state)
        procs[f"{name}.attn2.processor"] = SwapCrossAttnProcessor(f"{name}.attn2", state)
    unet.set_attn_processor(procs)
    return saved
