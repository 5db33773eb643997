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
