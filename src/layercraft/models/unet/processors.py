"""LCP-Diffusion attention processors for `UNet2DConditionModel` (the adapter of Fig. 2, right).

- `LcpSelfAttnProcessor` on every `attn1`: static attention, eq. 9:
  z_s = SelfAttn(z) + μ · CrossAttn(z, c_s, M_s) · α.
- `LcpCrossAttnProcessor` on every `attn2`: dynamic attention, eq. 11 (IP-Adapter's decoupled cross-attention):
  z_new = CrossAttn(z_g, c_t) + λ · CrossAttn(z_g, c_d); optionally records text attention maps of chosen
  tokens into an `AttentionStore` (box-constrained regulation, eq. 5-7, and retouch's cross-attention mask).

Per-call inputs travel in one `LcpCallState` through `cross_attention_kwargs={"lcp": state}`; with no state the
processors compute exactly what diffusers' `AttnProcessor2_0` computes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from .attend import attend, finish, merge_heads, project_query_key_value, repeat_to, split_heads


@dataclass
class AttentionStore:
    """Collects per-layer text attention maps of selected tokens: name → list of (B, N, K) (averaged over heads).

    `token_index`: (K,) token positions; `keep_grad`: keep the graph (box regulation differentiates through it);
    `layers`: a name filter (substring match), None = all cross-attention layers.
    """

    token_index: torch.Tensor
    keep_grad: bool = False
    layers: tuple[str, ...] | None = None
    maps: dict[str, list[torch.Tensor]] = field(default_factory=lambda: defaultdict(list))

    def wants(self, name: str) -> bool:
        return self.layers is None or any(s in name for s in self.layers)

    def add(self, name: str, probs: torch.Tensor) -> None:
        # probs (B, H, N, T) → (B, N, K)
        m = probs.mean(1)[..., self.token_index.to(probs.device)]
        self.maps[name].append(m if self.keep_grad else m.detach())

    def clear(self) -> None:
        self.maps = defaultdict(list)


@dataclass
class LcpCallState:
    """What one UNet call needs beyond text. Batch dims B' may be a divisor of the UNet batch (CFG copies)."""

    static_tokens: torch.Tensor | None = None  # c_s (B', S, D_s)
    static_mask: torch.Tensor | None = None  # M_s on the static tokens (B', S) bool
    static_scale: float = 1.0  # α of eq. 9
    dynamic_tokens: torch.Tensor | None = None  # c_d (B', Q, D_c)
    dynamic_scale: float = 1.0  # λ of eq. 11
    store: AttentionStore | None = None


class LcpSelfAttnProcessor:
    """attn1 processor; `static` holds (to_k, to_v, mu) of this layer or None (plain self-attention)."""

    def __init__(self, name: str, static: nn.Module | None = None):
        self.name = name
        self.static = static

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None,
                 lcp: LcpCallState | None = None) -> torch.Tensor:
        residual = hidden_states  # (B, N, C)
        q, k, v = project_query_key_value(attn, hidden_states, encoder_hidden_states)
        h = attn.heads
        q = split_heads(q, h)
        out, _ = attend(q, split_heads(k, h), split_heads(v, h), attn.scale)
        if lcp is not None and lcp.static_tokens is not None and self.static is not None:
            b = q.shape[0]
            cs = repeat_to(lcp.static_tokens, b).to(q.dtype)  # (B, S, D_s)
            mask = None if lcp.static_mask is None else repeat_to(lcp.static_mask, b)
            ks, vs = split_heads(self.static.to_k(cs), h), split_heads(self.static.to_v(cs), h)
            out_s, _ = attend(q, ks, vs, attn.scale, key_mask=mask)
            out = out + self.static.mu * lcp.static_scale * out_s
        return finish(attn, merge_heads(out).to(q.dtype), residual)


class LcpCrossAttnProcessor:
    """attn2 processor; `dynamic` holds (to_k, to_v) for image tokens of this layer, or None."""

    def __init__(self, name: str, dynamic: nn.Module | None = None):
        self.name = name
        self.dynamic = dynamic

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None,
                 lcp: LcpCallState | None = None) -> torch.Tensor:
        residual = hidden_states
        q, k, v = project_query_key_value(attn, hidden_states, encoder_hidden_states)
        h = attn.heads
        q = split_heads(q, h)
        store = lcp.store if lcp is not None else None
        want = store is not None and store.wants(self.name)
        out, probs = attend(q, split_heads(k, h), split_heads(v, h), attn.scale, want_probs=want)
        if want:
            store.add(self.name, probs)
        if lcp is not None and lcp.dynamic_tokens is not None and self.dynamic is not None:
            cd = repeat_to(lcp.dynamic_tokens, q.shape[0]).to(q.dtype)  # (B, Q, D_c)
            out_d, _ = attend(q, split_heads(self.dynamic.to_k(cd), h), split_heads(self.dynamic.to_v(cd), h),
                              attn.scale)
            out = out + lcp.dynamic_scale * out_d
        return finish(attn, merge_heads(out).to(q.dtype), residual)
