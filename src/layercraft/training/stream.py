"""Streaming a task's batches over ranks and DataLoader workers, exactly once per epoch, resumably.

A task that streams (`task.streaming`, e.g. the canvas task with `data: {dataset: DIR, streaming:
true, workers: N}`) gives `stream_batches(rank, world_size, stream, streams, position)`: the
batches of one *stream* from `position` = (epoch, samples consumed in that epoch, batches made).
Each rank has `streams = max(1, workers)` streams, one per DataLoader worker; the dataset splits
its images over all `world_size · streams` streams per epoch (`PreparedDataset.stream_order`), so
every image is read by exactly one stream of one rank per epoch.

The DataLoader takes batches from its workers in turn (worker w gives the rank's batches
w, w + W, …), so rank batch b is batch b // W of stream b mod W. The trainer records every
stream's position as it consumes batches (not as workers prefetch them) and saves the table of
all ranks' positions in each checkpoint (`StreamState`, gathered to the main process). A resumed
run starts each stream at its recorded position and rotates the workers (worker w serves stream
(w + B) mod W after B batches) so that it carries on with exactly the batches the interrupted run
would have taken next: nothing repeated, nothing skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from torch.utils.data import DataLoader, IterableDataset, get_worker_info

Position = tuple[int, int, int]  # (epoch, samples consumed in it, batches made)


class StreamState:
    """Checkpointed beside the weights: every rank's and stream's position, table[rank][stream]."""

    def __init__(self, world_size: int, streams: int) -> None:
        self.world_size, self.streams = world_size, streams
        self.table = [[[0, 0, 0] for _ in range(streams)] for _ in range(world_size)]

    def state_dict(self) -> dict:
        return {"world_size": self.world_size, "streams": self.streams, "table": self.table}

    def load_state_dict(self, d: dict) -> None:
        if (d["world_size"], d["streams"]) != (self.world_size, self.streams):
            raise ValueError(f"the checkpoint streams its data over {d['world_size']} processes × {d['streams']} "
                             f"workers, this run over {self.world_size} × {self.streams}: resume with the same "
                             "number of processes and data.workers")
        self.table = [[[int(v) for v in pos] for pos in rank] for rank in d["table"]]


def _as_is(x):
    return x


class StreamedBatches(IterableDataset):
    """One rank's batches: in DataLoader worker w (0 without workers), stream (w + offset) mod streams."""

    def __init__(self, make: Callable[..., Iterator], rank: int, world_size: int, positions: list[Position],
                 offset: int = 0) -> None:
        self.make, self.rank, self.world_size = make, rank, world_size
        self.positions, self.offset, self.streams = [tuple(p) for p in positions], offset, len(positions)

    def __iter__(self):
        info = get_worker_info()
        stream = ((0 if info is None else info.id) + self.offset) % self.streams
        for batch, position in self.make(self.rank, self.world_size, stream, self.streams, self.positions[stream]):
            yield batch, stream, position


def loader(make: Callable[..., Iterator], rank: int, world_size: int, positions: list[Position],
           workers: int) -> DataLoader:
    """The DataLoader of one rank, resuming from `positions` (one per stream; `workers` 0 or len(positions))."""
    if workers and workers != len(positions):
        raise ValueError(f"{workers} workers for {len(positions)} streams")
    offset = sum(int(p[2]) for p in positions) % len(positions)  # batches taken so far, mod streams
    return DataLoader(StreamedBatches(make, rank, world_size, positions, offset), batch_size=None,
                      num_workers=workers, collate_fn=_as_is, prefetch_factor=2 if workers else None)
