"""Perceiver resampler of the DA-Encoder (LCP sec. III-B): N learnable queries distil image grid features
through stacked blocks of perceiver attention + FFN, then a projection layer."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class PerceiverAttention(nn.Module):
    """Queries from the latents; keys/values from [image features; latents] (Flamingo's perceiver attention)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm_x = nn.LayerNorm(dim)
        self.norm_q = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        # x: (B, P, D) image features; latents: (B, N, D)
        b, n, d = latents.shape
        x, lat = self.norm_x(x), self.norm_q(latents)
        q = self.to_q(lat)  # (B, N, D)
        k, v = self.to_kv(torch.cat([x, lat], dim=1)).chunk(2, dim=-1)  # (B, P + N, D) each

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, t.shape[1], self.heads, d // self.heads).transpose(1, 2)  # (B, H, ·, Dh)

        out = F.scaled_dot_product_attention(split(q), split(k), split(v))  # (B, H, N, Dh)
        return self.to_out(out.transpose(1, 2).reshape(b, n, d))


class PerceiverResampler(nn.Module):
    """(B, P, D_in) image grid features → (B, N, D_out) dynamic subject features c_d."""

    def __init__(self, in_dim: int, out_dim: int, num_queries: int = 16, dim: int = 768, depth: int = 4,
                 heads: int = 12, ff_mult: int = 4):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(1, num_queries, dim) / dim**0.5)
        self.proj_in = nn.Linear(in_dim, dim)
        self.blocks = nn.ModuleList()
        for _ in range(depth):
            ff = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim * ff_mult, bias=False), nn.GELU(),
                               nn.Linear(dim * ff_mult, dim, bias=False))
            self.blocks.append(nn.ModuleList([PerceiverAttention(dim, heads), ff]))
        self.proj_out = nn.Linear(dim, out_dim)
        self.norm_out = nn.LayerNorm(out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.proj_in(features)  # (B, P, dim)
        latents = self.latents.expand(x.shape[0], -1, -1)  # (B, N, dim)
        for attn, ff in self.blocks:
            latents = latents + attn(x, latents)
            latents = latents + ff(latents)
        return self.norm_out(self.proj_out(latents))  # (B, N, out_dim)
