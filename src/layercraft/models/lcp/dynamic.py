"""LCP eq. 2 / 11: the decoupled image key/value projections of dynamic attention (as IP-Adapter adds them)."""

from __future__ import annotations

import torch.nn as nn


class DynamicKV(nn.Module):
    """W_k^i, W_v^i of eq. 2 for one cross-attention layer."""

    def __init__(self, token_dim: int, inner_dim: int):
        super().__init__()
        self.to_k = nn.Linear(token_dim, inner_dim, bias=False)
        self.to_v = nn.Linear(token_dim, inner_dim, bias=False)
