"""LcpAdapter: every trainable part of LCP-Diffusion in one diffusers model (save/load with save_pretrained).

Holds the perceiver resampler (DA-Encoder), the static detail refiner's level projections and output projection,
the layout-aware MLPs (eq. 4) and, per UNet transformer block, static attention K/V + μ (eq. 9), grounding
attention (eq. 10) and dynamic attention K/V (eq. 11). `install(unet)` plugs them in through diffusers' seams:
attention processors on attn1/attn2, the block's `fuser` slot and the UNet's `position_net` slot (both of which
diffusers calls with `cross_attention_kwargs["gligen"]`); the UNet's own weights are untouched.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from ..lcp.dynamic import DynamicKV
from ..lcp.grounding import GroundingAttention
from ..lcp.layout_aware import LayoutAwareModule
from ..lcp.resampler import PerceiverResampler
from .processors import LcpCrossAttnProcessor, LcpSelfAttnProcessor


class StaticKV(nn.Module):
    """K/V projections of c_s for one self-attention layer, and μ (zero: the base model is unchanged at init)."""

    def __init__(self, static_dim: int, inner_dim: int):
        super().__init__()
        self.to_k = nn.Linear(static_dim, inner_dim, bias=False)
        self.to_v = nn.Linear(static_dim, inner_dim, bias=False)
        self.mu = nn.Parameter(torch.zeros(()))


class _Fuser:
    """The object diffusers' block calls as `self.fuser(hidden, objs)`; a plain callable, so the UNet's state
    dict does not change."""

    def __init__(self, module: GroundingAttention):
        self.module = module

    def __call__(self, hidden: torch.Tensor, objs: dict) -> torch.Tensor:
        return self.module(hidden, objs["tokens"], objs.get("mask"), objs.get("beta", 1.0))


def _identity_position_net(**objs):
    return objs  # grounding tokens are made by LcpAdapter.grounding_tokens before the UNet call


def transformer_blocks(unet: nn.Module) -> dict[str, nn.Module]:
    """Every `BasicTransformerBlock` of the UNet that has both attn1 and attn2, by module name."""
    return {n: m for n, m in unet.named_modules()
            if hasattr(m, "attn1") and getattr(m, "attn2", None) is not None}


def _key(name: str) -> str:
    return name.replace(".", "__")


class LcpAdapter(ModelMixin, ConfigMixin):
    config_name = "config.json"

    @register_to_config
    def __init__(self, block_names: list[str], block_dims: list[int], block_heads: list[int], text_dim: int = 768,
                 image_dim: int = 1024, static_dim: int = 768, num_queries: int = 16, resampler_dim: int = 768,
                 resampler_depth: int = 4, resampler_heads: int = 12, grounding_dim: int = 768, num_freqs: int = 8,
                 layout_hidden: int = 512, refiner_grid: int = 16):
        super().__init__()
        self.resampler = PerceiverResampler(image_dim, text_dim, num_queries, resampler_dim, resampler_depth,
                                            resampler_heads)
        self.refiner_levels = nn.ModuleDict({_key(n): nn.Linear(d, static_dim)
                                             for n, d in zip(block_names, block_dims, strict=True)})
        self.refiner_proj = nn.Sequential(nn.LayerNorm(static_dim), nn.Linear(static_dim, static_dim))
        self.layout = LayoutAwareModule(static_dim, text_dim, grounding_dim, num_freqs, layout_hidden)
        dims = list(zip(block_names, block_dims, strict=True))
        self.static = nn.ModuleDict({_key(n): StaticKV(static_dim, d) for n, d in dims})
        self.dynamic = nn.ModuleDict({_key(n): DynamicKV(text_dim, d) for n, d in dims})
        self.grounding = nn.ModuleDict({_key(n): GroundingAttention(d, grounding_dim, h)
                                        for n, d, h in zip(block_names, block_dims, block_heads, strict=True)})

    @classmethod
    def for_unet(cls, unet: nn.Module, **kwargs) -> LcpAdapter:
        blocks = transformer_blocks(unet)
        return cls(block_names=list(blocks), block_dims=[b.attn1.to_q.out_features for b in blocks.values()],
                   block_heads=[b.attn1.heads for b in blocks.values()],
                   text_dim=kwargs.pop("text_dim", unet.config.cross_attention_dim), **kwargs)

    # ---- wiring -------------------------------------------------------------------------------------------
    def install(self, unet: nn.Module) -> None:
        """LCP processors on every attn1/attn2, grounding attention in every block's fuser slot."""
        blocks = transformer_blocks(unet)
        if sorted(blocks) != sorted(self.config.block_names):
            raise ValueError("this adapter was built for another UNet: its transformer blocks differ")
        for name, block in blocks.items():
            k = _key(name)
            block.attn1.set_processor(LcpSelfAttnProcessor(f"{name}.attn1", self.static[k]))
            block.attn2.set_processor(LcpCrossAttnProcessor(f"{name}.attn2", self.dynamic[k]))
            if isinstance(getattr(block, "fuser", None), nn.Module):
                raise ValueError(f"{name} already has a GLIGEN fuser; LCP needs a UNet with attention_type='default'")
            block.fuser = _Fuser(self.grounding[k])
        if isinstance(getattr(unet, "position_net", None), nn.Module):
            raise ValueError("the UNet has a GLIGEN position_net; LCP needs attention_type='default'")
        unet.position_net = _identity_position_net

    @staticmethod
    def uninstall(unet: nn.Module) -> None:
        from diffusers.models.attention_processor import AttnProcessor2_0

        for block in transformer_blocks(unet).values():
            block.attn1.set_processor(AttnProcessor2_0())
            block.attn2.set_processor(AttnProcessor2_0())
            if isinstance(getattr(block, "fuser", None), _Fuser):
                del block.fuser
        if getattr(unet, "position_net", None) is _identity_position_net:
            del unet.position_net

    # ---- features -----------------------------------------------------------------------------------------
    def dynamic_features(self, image_features: torch.Tensor) -> torch.Tensor:
        """Penultimate CLIP grid features (K, P, D_img) → c_d (K, N, D_text)."""
        return self.resampler(image_features.to(self.dtype))

    def aggregate_static(self, levels: dict[str, torch.Tensor], mask: torch.Tensor,
                         latent_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Refiner self-attention outputs per block name (K, N_l, C_l) and the subject mask (K, h, w) → static
        detail features c_s (K, s², D_s) on an s×s grid and their key mask (K, s²)."""
        s = self.config.refiner_grid
        h, w = latent_hw
        acc = 0.0
        for name, feats in levels.items():
            k, n, c = feats.shape
            f = round((h * w / n) ** 0.5)
            grid = feats.transpose(1, 2).reshape(k, c, h // f, w // f)  # (K, C_l, h_l, w_l)
            pooled = nn.functional.adaptive_avg_pool2d(grid.float(), (s, s)).flatten(2).transpose(1, 2)  # (K, s², C)
            acc = acc + self.refiner_levels[_key(name)](pooled.to(self.dtype))
        cs = self.refiner_proj(acc / len(levels))  # (K, s², D_s)
        m = nn.functional.adaptive_avg_pool2d(mask[:, None].float(), (s, s)).flatten(1) > 0  # (K, s²)
        m[~m.any(1)] = True
        return cs, m

    def grounding_tokens(self, static: torch.Tensor, static_mask: torch.Tensor, entity: torch.Tensor,
                         boxes: torch.Tensor) -> torch.Tensor:
        """eq. 4 for one canvas: c_s (K, S, D_s) pooled over the subject, entity embeddings (K, D_e), boxes (K, 4)
        → grounding tokens g (1, 2K, D_g)."""
        w = static_mask[..., None].to(static.dtype)
        pooled = (static * w).sum(1) / w.sum(1).clamp(min=1)  # (K, D_s)
        return self.layout(pooled[None], entity[None].to(static.dtype), boxes[None].to(static.dtype))
