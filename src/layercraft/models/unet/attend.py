"""Small helpers shared by the UNet attention processors: head split/merge and attention with optional probs."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, s, d = x.shape  # (B, S, inner) → (B, H, S, Dh)
    return x.view(b, s, heads, d // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    b, h, s, dh = x.shape  # (B, H, S, Dh) → (B, S, inner)
    return x.transpose(1, 2).reshape(b, s, h * dh)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, key_mask: torch.Tensor | None = None,
           want_probs: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """q (B, H, N, Dh), k/v (B, H, S, Dh), key_mask (B, S) bool → out (B, H, N, Dh), probs (B, H, N, S) or None."""
    mask = None if key_mask is None else key_mask[:, None, None, :].to(q.device)
    if not want_probs:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale), None
    scores = (q @ k.transpose(-1, -2)).float() * scale  # (B, H, N, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = scores.softmax(-1)
    return (probs.to(v.dtype) @ v), probs


def repeat_to(x: torch.Tensor, batch: int) -> torch.Tensor:
    """Repeat a per-sample tensor (B', ...) to the batch the UNet sees (B = B' · copies, e.g. CFG halves)."""
    return x if x.shape[0] == batch else x.repeat(batch // x.shape[0], *([1] * (x.ndim - 1)))


def project_query_key_value(attn, hidden: torch.Tensor, context: torch.Tensor | None):
    """The processor preamble diffusers' `Attention` expects: optional spatial norm, q/k/v projections."""
    if attn.group_norm is not None:
        hidden = attn.group_norm(hidden.transpose(1, 2)).transpose(1, 2)
    ctx = hidden if context is None else context
    if context is not None and attn.norm_cross:
        ctx = attn.norm_encoder_hidden_states(ctx)
    return attn.to_q(hidden), attn.to_k(ctx), attn.to_v(ctx)


def finish(attn, out: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    out = attn.to_out[1](attn.to_out[0](out))
    if attn.residual_connection:
        out = out + residual
    return out / attn.rescale_output_factor
