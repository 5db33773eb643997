"""Attention masks over the joint sequence [text (T); noisy (L); segment 1 (n_1); ...; segment k].

All masks are boolean, True = the query (row) may attend to the key (column), shaped
(1, 1, S, S) so they broadcast over batch and heads in scaled_dot_product_attention.

A `MaskSpec` says which of two independent restrictions apply (neither: every token sees every token,
as LayerComposer, Kontext and One-for-All attend):
- `isolated`: AnyPhoto's identity-isolated star topology (eq. 19): text and noisy tokens see all;
  segment i sees text, noisy and itself, never segment j ≠ i.
- `cacheable`: condition tokens see only condition tokens. Their keys/values then depend on nothing
  that changes across denoising steps (with a fixed, timestep-free modulation for condition
  tokens), so they are computed once and cached. Text is left out of what conditions see because
  text states are timestep-modulated in FLUX blocks. Text and noisy tokens still see everything:
  their keys/values are recomputed every step anyway, so blocking text → noisy (as a first sketch
  would) buys no exactness, and leaving it open lets every cached step run without a mask, on SDPA's
  fused kernel.
With both, segment i sees only itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MaskSpec:
    isolated: bool = False  # condition segments do not see each other
    cacheable: bool = False  # condition tokens see only condition tokens (their K/V can be cached)

    @property
    def full(self) -> bool:
        """No restriction: the plain joint attention (no mask needed for unpadded batches)."""
        return not (self.isolated or self.cacheable)


FULL = MaskSpec()


def joint_attention_mask(n_text: int, n_noisy: int, segment_lengths: list[int], spec: MaskSpec = FULL) -> torch.Tensor:
    if not isinstance(spec, MaskSpec):
        raise TypeError(f"spec must be a MaskSpec, got {type(spec).__name__}")
    isolate, cache = spec.isolated, spec.cacheable
    n_cond = sum(segment_lengths)
    s = n_text + n_noisy + n_cond
    m = torch.ones(s, s, dtype=torch.bool)
    cond = slice(n_text + n_noisy, s)
    if cache:
        m[cond, : n_text + n_noisy] = False
    if isolate:
        m[cond, cond] = False
        start = n_text + n_noisy
        for n in segment_lengths:
            m[start : start + n, start : start + n] = True
            start += n
    return m[None, None]


def pad_masks(masks: list[torch.Tensor], length: int) -> torch.Tensor:
    """Stack per-sample (1, 1, S_i, S_i) masks into (B, 1, length, length).

    Padded keys are masked out for every query; a padded query attends only to itself, so its
    softmax row stays finite (its output is discarded anyway).
    """
    out = torch.zeros(len(masks), 1, length, length, dtype=torch.bool)
    eye = torch.eye(length, dtype=torch.bool)
    for b, m in enumerate(masks):
        n = m.shape[-1]
        out[b, 0, :n, :n] = m[0, 0]
        out[b, 0, n:, :] = eye[n:]
    return out
