"""FluxLcpAdapter: every trainable part of LCP-Diffusion for `LayercraftFluxTransformer` (save/load with
save_pretrained); the transformer's own weights are untouched and nothing is installed into it.

Per double-stream block i it holds dynamic-attention K/V (eq. 11, through the attention processor's `extra_kv`),
static attention (eq. 9) and grounding attention (eq. 10) (both through the block's `image_hook`, on the noisy
tokens right after the joint-attention residual); shared: the DA-Encoder's perceiver resampler, the static detail
refiner's level projections and the layout-aware module (eq. 4). μ and the tanh gate γ start at 0, so a fresh
adapter leaves the model's output unchanged; `dynamic_scale` = 0 switches eq. 11 off exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from ..lcp.dynamic import DynamicKV
from ..lcp.grounding import GroundingAttention
from ..lcp.layout_aware import LayoutAwareModule
from ..lcp.resampler import PerceiverResampler


class StaticAttention(nn.Module):
    """eq. 9 on the image stream: z_s = z + μ · α · CrossAttn(LN(z), c_s, M_s), μ initialised to 0."""

    def __init__(self, dim: int, static_dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(static_dim, dim, bias=False)
        self.to_v = nn.Linear(static_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        self.mu = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor | None, scale: float) -> torch.Tensor:
        # z (B, N, dim); tokens (B', S, D_s); mask (B', S) bool
        b, n, d = z.shape
        rep = b // tokens.shape[0]
        tokens = tokens.to(z.dtype).repeat_interleave(rep, 0)

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(b, -1, self.heads, d // self.heads).transpose(1, 2)  # (B, H, ·, Dh)

        m = None if mask is None else mask.to(z.device).repeat_interleave(rep, 0)[:, None, None, :]
        out = F.scaled_dot_product_attention(split(self.to_q(self.norm(z))), split(self.to_k(tokens)),
                                             split(self.to_v(tokens)), attn_mask=m)
        return z + self.mu * scale * self.to_out(out.transpose(1, 2).reshape(b, n, d))


@dataclass
class LcpFluxState:
    """Per-call subject conditioning (batch B' = 1 canvas; repeated to the transformer batch)."""

    n_noisy: int  # L: hooks act on the first L image tokens
    dynamic_tokens: torch.Tensor | None = None  # c_d (B', Q, D_text)
    dynamic_scale: float = 1.0  # λ of eq. 11
    static_tokens: torch.Tensor | None = None  # c_s (B', S, D_s)
    static_mask: torch.Tensor | None = None  # M_s (B', S) bool
    static_scale: float = 1.0  # α of eq. 9
    grounding_tokens: torch.Tensor | None = None  # g (B', 2K, D_g)
    grounding_scale: float = 1.0  # β of eq. 10


class LcpFluxAdapter(ModelMixin, ConfigMixin):
    config_name = "config.json"

    @register_to_config
    def __init__(self, num_blocks: int, dim: int, heads: int, text_dim: int, image_dim: int, static_dim: int = 256,
                 num_queries: int = 16, resampler_dim: int = 256, resampler_depth: int = 4, resampler_heads: int = 4,
                 grounding_dim: int = 256, num_freqs: int = 8, layout_hidden: int = 256, refiner_grid: int = 8):
        super().__init__()
        self.resampler = PerceiverResampler(image_dim, text_dim, num_queries, resampler_dim, resampler_depth,
                                            resampler_heads)
        self.refiner_levels = nn.ModuleList([nn.Linear(dim, static_dim) for _ in range(num_blocks)])
        self.refiner_proj = nn.Sequential(nn.LayerNorm(static_dim), nn.Linear(static_dim, static_dim))
        self.layout = LayoutAwareModule(static_dim, text_dim, grounding_dim, num_freqs, layout_hidden)
        self.dynamic = nn.ModuleList([DynamicKV(text_dim, dim) for _ in range(num_blocks)])
        self.static = nn.ModuleList([StaticAttention(dim, static_dim, heads) for _ in range(num_blocks)])
        self.grounding = nn.ModuleList([GroundingAttention(dim, grounding_dim, heads) for _ in range(num_blocks)])

    @classmethod
    def for_transformer(cls, transformer: nn.Module, image_dim: int, **kwargs: Any) -> LcpFluxAdapter:
        c = transformer.config
        return cls(num_blocks=c.num_layers, dim=c.num_attention_heads * c.attention_head_dim,
                   heads=c.num_attention_heads, text_dim=kwargs.pop("text_dim", c.joint_attention_dim),
                   image_dim=image_dim, **kwargs)

    # ---- features ----------------------------------------------------------------------------------------
    def dynamic_features(self, image_features: torch.Tensor) -> torch.Tensor:
        """DA-Encoder: frozen image-encoder grid features (K, P, D_img) → c_d (K, N, D_text)."""
        return self.resampler(image_features.to(self.dtype))

    def aggregate_static(self, levels: list[torch.Tensor], mask: torch.Tensor,
                         grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Refiner image-stream features per double block [(K, L, D)] and subject masks (K, h, w) on the token grid
        → c_s (K, s², D_s) and its key mask M_s (K, s²)."""
        s = self.config.refiner_grid
        acc = 0.0
        for proj, feats in zip(self.refiner_levels, levels, strict=True):
            k, _, d = feats.shape
            g = feats.transpose(1, 2).reshape(k, d, *grid)  # (K, D, h, w)
            pooled = F.adaptive_avg_pool2d(g.float(), (s, s)).flatten(2).transpose(1, 2)  # (K, s², D)
            acc = acc + proj(pooled.to(self.dtype))
        cs = self.refiner_proj(acc / len(levels))
        m = F.adaptive_avg_pool2d(mask[:, None].float(), (s, s)).flatten(1) > 0  # (K, s²)
        m[~m.any(1)] = True
        return cs, m

    def grounding_tokens(self, static: torch.Tensor, static_mask: torch.Tensor, entity: torch.Tensor,
                         boxes: torch.Tensor) -> torch.Tensor:
        """eq. 4 for one canvas: c_s (K, S, D_s), entity embeddings (K, D_e), boxes (K, 4) → g (1, 2K, D_g)."""
        w = static_mask[..., None].to(static.dtype)
        pooled = (static * w).sum(1) / w.sum(1).clamp(min=1)  # (K, D_s)
        return self.layout(pooled[None], entity[None].to(static.dtype), boxes[None].to(static.dtype))

    # ---- wiring ------------------------------------------------------------------------------------------
    def attention_kwargs(self, transformer: nn.Module, state: LcpFluxState) -> dict[str, Any]:
        """joint_attention_kwargs that plug this adapter into `transformer` for one call."""
        if len(transformer.transformer_blocks) != self.config.num_blocks:
            raise ValueError("this adapter was built for a transformer with another number of double blocks")
        index = {id(b): i for i, b in enumerate(transformer.transformer_blocks)}
        attn_index = {id(b.attn): i for i, b in enumerate(transformer.transformer_blocks)}
        out: dict[str, Any] = {}
        if state.dynamic_tokens is not None:
            out["extra_kv"] = DynamicTerm(self, state, attn_index)
        if state.static_tokens is not None or state.grounding_tokens is not None:
            out["image_hook"] = ImageTerm(self, state, index)
        return out


@dataclass
class DynamicTerm:
    """`extra_kv` for LayercraftAttnProcessor: W_k^i c_d, W_v^i c_d of block i, scaled by λ (eq. 11)."""

    adapter: LcpFluxAdapter
    state: LcpFluxState
    attn_index: dict[int, int]

    def __call__(self, attn: nn.Module) -> tuple[torch.Tensor, torch.Tensor, float] | None:
        i = self.attn_index.get(id(attn))
        if i is None or self.state.dynamic_scale == 0:
            return None
        kv = self.adapter.dynamic[i]
        c = self.state.dynamic_tokens.to(kv.to_k.weight.dtype)  # (B', Q, D_text)
        return (kv.to_k(c).unflatten(-1, (attn.heads, -1)), kv.to_v(c).unflatten(-1, (attn.heads, -1)),
                self.state.dynamic_scale)


@dataclass
class ImageTerm:
    """`image_hook` for LayercraftTransformerBlock: static (eq. 9) then grounding attention (eq. 10) on the noisy
    tokens of block i."""

    adapter: LcpFluxAdapter
    state: LcpFluxState
    index: dict[int, int]

    def __call__(self, block: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        i = self.index.get(id(block))
        if i is None:
            return hidden
        st, n = self.state, self.state.n_noisy
        z = hidden[:, :n]  # (B, L, D)
        if st.static_tokens is not None:
            z = self.adapter.static[i](z, st.static_tokens, st.static_mask, st.static_scale)
        if st.grounding_tokens is not None:
            z = self.adapter.grounding[i](z, st.grounding_tokens, None, st.grounding_scale)
        return torch.cat([z, hidden[:, n:]], dim=1)
