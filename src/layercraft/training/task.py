"""What a training stage must provide, and the registry of stages by name.

A task owns the model and the data recipe. Batches are a pure function of (step, rank): resuming
after a crash replays exactly the batches and noise the interrupted run would have seen, and each
process of a multi-process run draws different data without any sampler state to save.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from .config import TrainConfig


class Task(Protocol):
    model: torch.nn.Module  # the module trained and checkpointed (before accelerate wraps it)

    def trainable_parameters(self) -> Iterable[torch.nn.Parameter]: ...

    # Optional: `param_groups(lr) -> [{"params": [...], "lr": ...}, ...]` replaces trainable_parameters() for the
    # optimizer when some parameters need their own learning rate (e.g. zero-initialised gates).

    def batch(self, index: int, rank: int, batch_size: int) -> Any:
        """The `index`-th micro-batch of process `rank`; deterministic."""

    def loss(self, model: torch.nn.Module, batch: Any, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        """Scalar loss and floats to log. `model` is the (possibly DDP-wrapped) trained module."""

    def sample(self, model: torch.nn.Module, step: int, out_dir: Path) -> None:
        """Write sample images for `step` (main process only)."""

    def export(self, model: torch.nn.Module, out_dir: Path) -> None:
        """Write the final weights (safetensors) and their config / model card."""


TASKS: dict[str, Callable[[TrainConfig], Task]] = {}


def register_task(name: str) -> Callable:
    def wrap(factory: Callable[[TrainConfig], Task]) -> Callable[[TrainConfig], Task]:
        TASKS[name] = factory
        return factory
    return wrap


def build_task(cfg: TrainConfig) -> Task:
    from . import tasks  # noqa: F401  (registers the built-in stages)

    if cfg.task in TASKS:
        return TASKS[cfg.task](cfg)
    if ":" in cfg.task:
        module, _, attr = cfg.task.partition(":")
        return getattr(importlib.import_module(module), attr)(cfg)
    raise ValueError(f"unknown training task {cfg.task!r}; registered: {sorted(TASKS)} (or use 'module:factory')")


def step_seed(seed: int, *keys: int) -> int:
    """A well-mixed 63-bit seed from the run seed and integer keys (step, micro-step, rank...)."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))
