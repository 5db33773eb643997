"""Per-segment AdaLN modulation and the identity projector.

FLUX modulates every token of a stream with one conditioning vector c (timestep + pooled text).
`TokenModulation` lets each token pick one of a few vectors instead: slot 0 is the usual c (text
and noisy tokens), slot 1 + k belongs to condition segment k. AnyPhoto's identity-adaptive
modulation sets slot 1 + k to c + MLP(e_k) (eq. 16-18); cache mode sets it to a timestep-free vector.
The AdaLN linear layers run on the V vectors only, then the results are gathered per token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class TokenModulation:
    vectors: torch.Tensor  # (B, V, D) conditioning vectors; slot 0 = the stream's usual c
    index: torch.Tensor  # (B, N) long, which vector each token uses

    def with_prefix(self, n: int) -> TokenModulation:
        """Prepend n tokens using slot 0 (the text tokens in a single-stream block)."""
        pad = torch.zeros(self.index.shape[0], n, dtype=self.index.dtype, device=self.index.device)
        return TokenModulation(self.vectors, torch.cat([pad, self.index], dim=1))

    def params(self, linear: nn.Linear, chunks: int) -> tuple[torch.Tensor, ...]:
        """AdaLN parameters per token: `chunks` tensors (B, N, D) from linear(SiLU(vectors))."""
        emb = linear(F.silu(self.vectors))  # (B, V, chunks·D)
        idx = self.index[..., None].expand(-1, -1, emb.shape[-1])
        return torch.gather(emb, 1, idx).chunk(chunks, dim=-1)  # each (B, N, D)


class IdentityProjector(nn.Module):
    """Linear-GELU-Linear from an identity embedding (dlib 128, ArcFace 512, world encoder) to an
    additive offset on the conditioning vector. The output layer starts at zero: no effect at init."""

    def __init__(self, embed_dim: int, dim: int, hidden_dim: int | None = None):
        super().__init__()
        hidden_dim = hidden_dim or dim
        self.fc1 = nn.Linear(embed_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        # embeds: (..., E) → (..., D)
        return self.fc2(F.gelu(self.fc1(embeds)))


class GuidanceScaleEmbedder(nn.Module):
    """A guidance-distilled model's extra input: the text and canvas guidance scales (B, 2) → an offset (B, D) on
    the conditioning vector, as FLUX-dev embeds its distilled guidance. Each scale gets sinusoidal features
    (diffusers' `Timesteps`, the scale × 100 as the phase), then `TimestepEmbedding`; its output layer starts at
    zero, so a model built from an undistilled teacher starts as the teacher's unguided (positive-branch) model."""

    def __init__(self, dim: int, n_scales: int = 2, features: int = 128):
        super().__init__()
        from diffusers.models.embeddings import TimestepEmbedding, Timesteps

        self.n_scales = n_scales
        self.proj = Timesteps(features, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.embed = TimestepEmbedding(features * n_scales, dim)
        nn.init.zeros_(self.embed.linear_2.weight)
        nn.init.zeros_(self.embed.linear_2.bias)

    def forward(self, scales: torch.Tensor) -> torch.Tensor:
        # scales: (B, n_scales) → (B, D)
        if scales.ndim != 2 or scales.shape[1] != self.n_scales:
            raise ValueError(f"guidance scales must be (B, {self.n_scales}), got {tuple(scales.shape)}")
        b = scales.shape[0]
        feats = self.proj(scales.float().flatten() * 100).view(b, -1)  # (B, n_scales · features)
        return self.embed(feats.to(self.embed.linear_1.weight.dtype))
