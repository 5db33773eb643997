"""Attention extensions for the Flux blocks, plugged in through diffusers' attention-processor seam.

`LayercraftAttnProcessor` computes exactly what `FluxAttnProcessor` computes when nothing extra is
passed, and additionally accepts (through `FluxAttention.forward`'s keyword filtering):

- a boolean `attention_mask` (B|1, 1, S, S) over the joint sequence [text; noisy; conditions],
  True = may attend (rows are sliced to the queries present, so a cached call can pass the full mask);
- per-sample rotary tables: `image_rotary_emb` = (cos, sin) shaped (B, S, head_dim) instead of (S, head_dim);
- `kv_cache`: a `BlockKV` view that stores the trailing condition keys/values (write) or appends the
  stored ones to this call's keys/values (read);
- `dam=True`: One-for-All dynamic attention modulation via the block's `TemperatureGenerator`;
- `probe`: a callable `probe(query, key, attention_mask)` given the final (B, S, H, Dh) queries/keys, which may
  record image-query → text-key attention probabilities (box regulation, cross-attention masks); the output is
  still computed by the fused kernel;
- `swap`: an object with `before(query, key, value) -> (query, key, value)` and `after(out) -> out` on
  (B, S, H, Dh) tensors (multi-source attention swap across batch rows);
- `extra_kv`: a callable `extra_kv(attn) -> (key, value, scale) | None` giving extra image keys/values
  (B, Q, H, Dh) attended separately by the image queries of double-stream blocks and added with `scale`
  (decoupled image attention, IP-Adapter / LCP eq. 11).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.embeddings import apply_rotary_emb


class TemperatureGenerator(nn.Module):
    """f_temp = Softplus(MLP(W_q f)) + t_min (One-for-All eq. 4), one temperature per token and head.

    The last layer starts at zero weight and a bias of softplus⁻¹(1 - t_min), so every temperature is
    exactly 1 at initialisation and attention is unchanged (eq. 5 divides the scores by it).
    """

    def __init__(self, inner_dim: int, heads: int, hidden_dim: int = 64, t_min: float = 0.01):
        super().__init__()
        self.t_min = t_min
        self.fc1 = nn.Linear(inner_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, heads)
        nn.init.zeros_(self.fc2.weight)
        nn.init.constant_(self.fc2.bias, math.log(math.expm1(1.0 - t_min)))

    def forward(self, query: torch.Tensor) -> torch.Tensor:
        # query: (B, S, inner) projected queries W_q f → (B, S, heads)
        return F.softplus(self.fc2(F.gelu(self.fc1(query)))) + self.t_min


@dataclass
class ConditionKVCache:
    """Condition keys/values per attention layer, computed at the first step and reused after.

    Valid only when condition tokens see nothing that changes across steps: a `cacheable` mask and a
    timestep-free modulation for condition tokens (the transformer checks both before writing).
    """

    n_cond: int = 0
    filled: bool = False
    entries: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def view(self, name: str) -> BlockKV:
        return BlockKV(self, name)

    def clear(self) -> None:
        self.entries.clear()
        self.filled = False


@dataclass
class BlockKV:
    cache: ConditionKVCache
    name: str

    def exchange(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # key, value: (B, S, H, Dh); conditions are the trailing n_cond tokens when writing
        if not self.cache.filled:
            m = self.cache.n_cond
            start = key.shape[1] - m
            self.cache.entries[self.name] = (key[:, start:].detach(), value[:, start:].detach())
            return key, value
        k, v = self.cache.entries[self.name]
        return torch.cat([key, k.to(key.dtype)], dim=1), torch.cat([value, v.to(value.dtype)], dim=1)


def apply_rotary(x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """x (B, S, H, Dh); rotary (cos, sin) either shared (S, Dh) or per sample (B, S, Dh)."""
    cos, sin = rotary
    if cos.ndim == 2:
        return apply_rotary_emb(x, rotary, sequence_dim=1)
    cos, sin = cos[:, :, None].to(x.device), sin[:, :, None].to(x.device)  # (B, S, 1, Dh)
    x_real, x_imag = x.reshape(*x.shape[:-1], -1, 2).unbind(-1)
    x_rotated = torch.stack([-x_imag, x_real], dim=-1).flatten(3)
    return (x.float() * cos + x_rotated.float() * sin).to(x.dtype)


class LayercraftAttnProcessor:
    """Drop-in replacement for `FluxAttnProcessor` (double- and single-stream Flux attention)."""

    _attention_backend = None
    _parallel_config = None

    def __call__(
        self,
        attn: nn.Module,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
        kv_cache: BlockKV | None = None,
        dam: bool = False,
        probe: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], None] | None = None,
        swap: Any = None,
        extra_kv: Callable[[nn.Module], tuple[torch.Tensor, torch.Tensor, float] | None] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        dual = encoder_hidden_states is not None and attn.added_kv_proj_dim is not None
        query = attn.to_q(hidden_states)  # (B, N, inner)
        key = attn.to_k(hidden_states)
        value = attn.to_v(hidden_states)
        temperature = attn.temperature(query) if dam and hasattr(attn, "temperature") else None  # (B, N, H)

        query = attn.norm_q(query.unflatten(-1, (-1, attn.head_dim)))  # (B, N, H, Dh)
        key = attn.norm_k(key.unflatten(-1, (-1, attn.head_dim)))
        value = value.unflatten(-1, (-1, attn.head_dim))

        if dual:
            enc_query = attn.add_q_proj(encoder_hidden_states)  # (B, T, inner)
            enc_key = attn.add_k_proj(encoder_hidden_states).unflatten(-1, (-1, attn.head_dim))
            enc_value = attn.add_v_proj(encoder_hidden_states).unflatten(-1, (-1, attn.head_dim))
            if temperature is not None:
                temperature = torch.cat([attn.temperature(enc_query), temperature], dim=1)  # (B, T + N, H)
            enc_query = attn.norm_added_q(enc_query.unflatten(-1, (-1, attn.head_dim)))
            enc_key = attn.norm_added_k(enc_key)
            query = torch.cat([enc_query, query], dim=1)  # (B, S, H, Dh), S = T + N
            key = torch.cat([enc_key, key], dim=1)
            value = torch.cat([enc_value, value], dim=1)

        if image_rotary_emb is not None:
            query = apply_rotary(query, image_rotary_emb)
            key = apply_rotary(key, image_rotary_emb)
        if temperature is not None:
            # softmax(QKᵀ / (√d · f_temp)) (eq. 5): dividing each query by its temperature is the same
            query = query / temperature[..., None].to(query.dtype)
        if kv_cache is not None:
            key, value = kv_cache.exchange(key, value)
        if attention_mask is not None:
            attention_mask = attention_mask[:, :, : query.shape[1], : key.shape[1]]
            if attention_mask.all():  # nothing masked: let SDPA take its fused (unmasked) kernel
                attention_mask = None
        if swap is not None:
            query, key, value = swap.before(query, key, value)
        if probe is not None:
            probe(query, key, attention_mask)

        out = dispatch_attention_fn(query, key, value, attn_mask=attention_mask, backend=self._attention_backend,
                                    parallel_config=self._parallel_config)
        if swap is not None:
            out = swap.after(out)
        out = out.flatten(2, 3).to(query.dtype)  # (B, S, inner)
        if not dual:
            return out
        t = encoder_hidden_states.shape[1]
        enc_out, out = out.split_with_sizes([t, out.shape[1] - t], dim=1)
        extra = extra_kv(attn) if extra_kv is not None else None
        if extra is not None:
            k_i, v_i, scale = extra  # (B, Q, H, Dh) image keys/values
            k_i, v_i = (x.to(query.dtype).expand(query.shape[0], -1, -1, -1) for x in (k_i, v_i))
            out_i = dispatch_attention_fn(query[:, t:], k_i, v_i,
                                          backend=self._attention_backend, parallel_config=self._parallel_config)
            out = out + scale * out_i.flatten(2, 3).to(out.dtype)
        out = attn.to_out[1](attn.to_out[0](out.contiguous()))
        enc_out = attn.to_add_out(enc_out.contiguous())
        return out, enc_out
