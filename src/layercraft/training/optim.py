"""The optimizer a config names: torch AdamW, or bitsandbytes' 8-bit / paged AdamW to save memory on GPUs.

8-bit AdamW keeps both moment estimates in 8 bits (2 bytes per trained parameter instead of 8); the paged
variants keep them in unified memory that spills to CPU RAM when the GPU runs short. Both need bitsandbytes,
which is imported only when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

# config name → (bitsandbytes class, or None for torch.optim.AdamW)
OPTIMIZERS: dict[str, str | None] = {
    "adamw": None,
    "adamw8bit": "AdamW8bit",
    "paged_adamw": "PagedAdamW",
    "paged_adamw8bit": "PagedAdamW8bit",
}


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The class for a config's `optimizer`; a clear error when it needs bitsandbytes and that is missing."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    cls = OPTIMIZERS[name]
    if cls is None:
        return torch.optim.AdamW
    try:
        bnb = importlib.import_module("bitsandbytes")
    except ImportError as e:
        raise ImportError(f"optimizer {name!r} needs bitsandbytes (`pip install bitsandbytes`, CUDA builds); "
                          "use optimizer: adamw without it") from e
    return getattr(bnb.optim, cls)


def build_optimizer(name: str, groups: list[dict[str, Any]], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    return optimizer_class(name)(groups, lr=lr, weight_decay=weight_decay)
