"""Image-query → text-key attention probe for `LayercraftAttnProcessor` (the Flux "cross-attention").

Joint attention runs over [text (T); noisy (L); conditions (M)]. The probe recomputes, for the L noisy queries,
softmax(q kᵀ / √d) over *all* keys (exactly the probabilities joint attention uses), averages the heads and keeps
the columns of chosen text tokens → one (B, L, K) map per attention layer. The processor's output is untouched
(it still runs the fused kernel), so recording never changes the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass
class TextAttentionProbe:
    token_index: torch.Tensor  # (K,) positions in the text sequence
    text_len: int  # T, the text tokens at the front of the joint sequence
    n_noisy: int  # L, the noisy image tokens right after the text
    keep_grad: bool = False  # keep the graph (box regulation differentiates through the maps)
    batch_rows: slice | None = None  # record only these batch rows (e.g. the layout path of a retouch batch)
    maps: list[torch.Tensor] = field(default_factory=list)  # per attention call: (B, L, K)

    def __call__(self, query: torch.Tensor, key: torch.Tensor, attention_mask: torch.Tensor | None) -> None:
        # query (B, S, H, Dh), key (B, S_k, H, Dh), attention_mask (B|1, 1, S, S_k) bool or None
        t, n = self.text_len, self.n_noisy
        q, k = query[:, t : t + n], key
        if self.batch_rows is not None:
            q, k = q[self.batch_rows], k[self.batch_rows]
        if not self.keep_grad:
            q, k = q.detach(), k.detach()
        scores = torch.einsum("blhd,bshd->bhls", q.float(), k.float()) / math.sqrt(q.shape[-1])  # (B, H, L, S_k)
        if attention_mask is not None:
            m = attention_mask[:, :, t : t + n]
            if self.batch_rows is not None and m.shape[0] > 1:
                m = m[self.batch_rows]
            scores = scores.masked_fill(~m, float("-inf"))
        probs = scores.softmax(-1)[..., self.token_index.to(q.device)]  # (B, H, L, K)
        self.maps.append(probs.mean(1))

    def clear(self) -> None:
        self.maps = []

    def mean_map(self) -> torch.Tensor:
        """All recorded layers averaged → (B, L, K)."""
        if not self.maps:
            raise ValueError("the probe recorded nothing; pass it as joint_attention_kwargs={'probe': probe}")
        return torch.stack(self.maps).mean(0)
