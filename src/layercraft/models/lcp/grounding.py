"""Grounding attention (LCP eq. 10): z_g = z_s + β · tanh(γ) · SelfAttn([z_s, g])[:N], γ initialised to 0.

Plugged into `BasicTransformerBlock`'s `fuser` slot (called right after the self-attention residual, which is
z_s of eq. 9), so no block forward is copied.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class GroundingAttention(nn.Module):
    def __init__(self, dim: int, token_dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.proj_tokens = nn.Linear(token_dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        self.gate = nn.Parameter(torch.zeros(()))  # γ: tanh(0) = 0 leaves the base model unchanged

    def forward(self, z: torch.Tensor, tokens: torch.Tensor, token_mask: torch.Tensor | None = None,
                beta: float = 1.0) -> torch.Tensor:
        # z: (B, N, dim) = z_s; tokens: (B', G, token_dim) with B a multiple of B' (CFG); token_mask: (B', G) bool
        b, n, d = z.shape
        rep = b // tokens.shape[0]
        g = self.proj_tokens(tokens.to(z.dtype)).repeat_interleave(rep, 0)  # (B, G, dim)
        x = self.norm(torch.cat([z, g], dim=1))  # (B, N + G, dim)
        q, k, v = (t.view(b, -1, self.heads, d // self.heads).transpose(1, 2) for t in self.to_qkv(x).chunk(3, -1))
        mask = None
        if token_mask is not None:
            keep = torch.cat([torch.ones(b, n, dtype=torch.bool, device=z.device),
                              token_mask.to(z.device).repeat_interleave(rep, 0)], dim=1)  # (B, N + G)
            mask = keep[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, N + G, Dh)
        out = self.to_out(out.transpose(1, 2).reshape(b, -1, d))[:, :n]  # keep the visual queries only
        return z + beta * torch.tanh(self.gate) * out
