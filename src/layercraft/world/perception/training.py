"""Shared training plumbing for the perception models: seeding, threads, cached renders, schedules."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

# renders are memoised here; LAYERCRAFT_PERCEPTION_CACHE=<dir> moves it, =off disables it
_CACHE_ENV = os.environ.get("LAYERCRAFT_PERCEPTION_CACHE", "/tmp/layercraft-perception-cache")
CACHE = None if _CACHE_ENV == "off" else Path(_CACHE_ENV)


def setup(seed: int, threads: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def cached(name: str, params: dict, make: Callable[[], dict], cache: Path | None = CACHE) -> dict:
    """`make()` (a dict of tensors, a pure function of `params`), memoised on disk under `cache`."""
    if cache is None:
        return make()
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    path = cache / f"{name}-{key}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    out = make()
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def cosine_lr(step: int, total: int, peak: float, warmup: int = 200) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


class Clock:
    """Wall time since construction, for reports."""

    def __init__(self):
        self.t0 = time.time()

    def __call__(self) -> float:
        return time.time() - self.t0


def add_common_args(ap, *, steps: int, batch: int, lr: float) -> None:
    """The optimisation options every perception training script takes."""
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)


def save_trained(model: torch.nn.Module, name: str, input_note: str, train: dict, clock: Clock) -> Path:
    """Write weights + JSON config (architecture, input convention, size, how it was trained); report."""
    from . import weights
    from .nets import n_params

    model = model.to(memory_format=torch.contiguous_format)
    config = {**model.config, "input": input_note, "params": n_params(model),
              "train": {**train, "wall_s": round(clock())}}
    path = weights.save(model, name, config)
    print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB), {n_params(model)} params, wall {clock():.0f}s")
    return path
