"""Multi-source attention swap (Layout-and-Retouch Algorithm 1) for Flux joint attention, as the `swap` option of
`LayercraftAttnProcessor`.

The transformer runs the three paths as one batch [reference; layout; target] (b rows each), over the joint
sequence [text (T); noisy (L); conditions]. For the target rows:
- early steps: Q, K and V of the whole joint sequence come from the layout path — its self-attention (image keys)
  and its "cross-attention" (text keys) alike (lines 9-10), so the target's attention output is the layout's;
- late steps: the target keeps its own queries and text keys/values, and attends to the reference path's image
  keys/values (line 12); its noisy-token output φ_t is blended with the layout's φ_l by the adaptive mask M:
  φ* = M ⊙ φ_t + (1 − M) ⊙ φ_l.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class FluxAttentionSwap:
    text_len: int  # T
    n_noisy: int  # L
    early: bool = True
    mask: torch.Tensor | None = None  # (b, L) blend weights M on the noisy tokens, in [0, 1]

    @staticmethod
    def _rows(batch: int) -> tuple[slice, slice, slice]:
        if batch % 3:
            raise ValueError(f"attention swap needs a [reference; layout; target] batch, got {batch} rows")
        b = batch // 3
        return slice(0, b), slice(b, 2 * b), slice(2 * b, 3 * b)

    def before(self, query: torch.Tensor, key: torch.Tensor,
               value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # (3b, S, H, Dh) each
        ref, lay, tgt = self._rows(query.shape[0])
        if self.early:
            return tuple(torch.cat([x[: tgt.start], x[lay]]) for x in (query, key, value))
        t = self.text_len
        key, value = key.clone(), value.clone()
        key[tgt, t:], value[tgt, t:] = key[ref, t:], value[ref, t:]
        return query, key, value

    def after(self, out: torch.Tensor) -> torch.Tensor:
        # (3b, S, H, Dh)
        if self.early or self.mask is None:
            return out
        _, lay, tgt = self._rows(out.shape[0])
        t, n = self.text_len, self.n_noisy
        m = self.mask.to(out.device, out.dtype)[:, :, None, None]  # (b, L, 1, 1)
        out = out.clone()
        out[tgt, t : t + n] = m * out[tgt, t : t + n] + (1 - m) * out[lay, t : t + n]
        return out
