"""A task's micro-batches built ahead of the loop by DataLoader worker processes (`data_workers: N`).

Every micro-batch is a pure function of its index (`Task.batch(index, rank, batch_size)`), so worker
processes can build them in any order and the DataLoader hands them back in index order: a run with
workers sees exactly the batches of a run without, and resuming needs no state beyond the step.
Workers are forked (they inherit the task, nothing is pickled) and run one thread each, so they draw
and render the next batches on spare cores while the main process runs the model; on a GPU machine
this keeps the procedural world's CPU work off the training step.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset


def _as_is(x):
    return x


def _one_thread(_worker: int) -> None:
    torch.set_num_threads(1)  # a worker renders; the main process keeps the cores' math libraries to itself


class IndexedBatches(Dataset):
    """Map-style view of a task's micro-batches: item k is `task.batch(k, rank, batch_size)`."""

    def __init__(self, task, rank: int, batch_size: int, total: int) -> None:
        self.task, self.rank, self.batch_size, self.total = task, rank, batch_size, total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index: int) -> Any:
        return self.task.batch(index, self.rank, self.batch_size)


def batches(task, rank: int, batch_size: int, start: int, total: int, workers: int = 0) -> Iterator[Any]:
    """Micro-batches `start`, `start + 1`, … `total - 1` of process `rank`, in order; built inline when `workers`
    is 0, else by that many forked worker processes, two batches ahead each."""
    if workers <= 0:
        return (task.batch(k, rank, batch_size) for k in range(start, total))
    if "fork" not in multiprocessing.get_all_start_methods():
        raise ValueError("data_workers needs the 'fork' start method (Linux, macOS): set data_workers: 0 here")
    loader = DataLoader(IndexedBatches(task, rank, batch_size, total), sampler=range(start, total), batch_size=None,
                        num_workers=workers, collate_fn=_as_is, prefetch_factor=2, worker_init_fn=_one_thread,
                        multiprocessing_context="fork")
    return iter(loader)
