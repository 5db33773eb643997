"""What a training stage must provide, and how a stage is built from its name.

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
from .tasks import TASKS


class Task(Protocol):
    model: torch.nn.Module  # the module trained and checkpointed (before accelerate wraps it)

    def trainable_parameters(self) -> Iterable[torch.nn.Parameter]: ...

    # Optional: `param_groups(lr) -> [{"params": [...], "lr": ...}, ...]` replaces trainable_parameters() for the
    # optimizer when some parameters need their own learning rate (e.g. zero-initialised gates).

    def batch(self, index: int, rank: int, batch_size: int) -> Any:
        """The `index`-th micro-batch of process `rank`; deterministic."""

    # Optional streaming (training/stream.py): `streaming = True`, `streams` (per rank) and
    # `stream_loader(rank, world_size, positions)` → an iterable of (batch, stream, position) used instead of
    # `batch`; the trainer checkpoints every stream's position and resumes each one from it.

    def loss(self, model: torch.nn.Module, batch: Any, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        """Scalar loss and floats to log. `model` is the (possibly DDP-wrapped) trained module."""

    def sample(self, model: torch.nn.Module, step: int, out_dir: Path) -> None:
        """Write sample images for `step` (main process only)."""

    def export(self, model: torch.nn.Module, out_dir: Path) -> None:
        """Write the final weights (safetensors) and their config / model card."""


def task_factory(name: str) -> Callable[[TrainConfig], Task]:
    """A built-in stage's factory by name (`training.tasks.TASKS`), or any 'module:factory' path."""
    path = TASKS.get(name, name)
    if ":" not in path:
        raise ValueError(f"unknown training task {name!r}; built in: {', '.join(sorted(TASKS))} "
                         "(or give 'module:factory')")
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_task(cfg: TrainConfig) -> Task:
    return task_factory(cfg.task)(cfg)


def step_seed(seed: int, *keys: int) -> int:
    """A well-mixed 63-bit seed from the run seed and integer keys (step, micro-step, rank...)."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))
