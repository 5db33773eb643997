"""PyTorch datasets over the world: rendered on the fly (map-style or streaming) or read from shards.

Seeding is multiprocess-safe: map-style items are a pure function of the index; streaming draws
come from a generator seeded by (seed, epoch, worker id, rank), so workers never repeat each other.
Every scene id drawn is checked against the split (training can never see held-out ids).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from .layout import image_spec, scene
from .sample import Sample
from .scene import render
from .shards import read_shard
from .splits import check_split, scene_range


def to_tensors(sample: Sample) -> dict:
    """Tensors (channels first) for one sample; per-person tensors have a leading N axis."""
    return {
        "rgb": torch.from_numpy(np.ascontiguousarray(sample.rgb.transpose(2, 0, 1))),  # (3, H, W) uint8
        "plate": torch.from_numpy(np.ascontiguousarray(sample.plate.transpose(2, 0, 1))),  # (3, H, W) uint8
        "layers": torch.from_numpy(np.ascontiguousarray(sample.layers.transpose(0, 3, 1, 2))),  # (N, 4, H, W)
        "visible": torch.from_numpy(sample.visible),  # (N, H, W) bool
        "parts": torch.from_numpy(sample.parts),  # (N, 4, H, W) bool
        "person_boxes": torch.from_numpy(sample.person_boxes),  # (N, 4) int32
        "face_boxes": torch.from_numpy(sample.face_boxes),  # (N, 4) int32
        "landmarks": torch.from_numpy(sample.landmarks),  # (N, 5, 2) float32
        "meta": sample.meta,
    }


def collate(batch: list[dict]) -> dict:
    """Stack the fixed-size images; keep per-person tensors and meta as lists (N varies)."""
    out = {k: torch.stack([b[k] for b in batch]) for k in ("rgb", "plate")}
    for k in batch[0]:
        if k not in out:
            out[k] = [b[k] for b in batch]
    return out


class RenderedScenes(Dataset):
    """Item i = image (i mod images_per_scene) of the (i div images_per_scene)-th scene of `split`."""

    def __init__(
        self,
        split: str = "train",
        size: int = 256,
        images_per_scene: int = 4,
        length: int = 10_000,
        first_scene: int | None = None,
    ):
        lo, hi = scene_range(split)
        self.split, self.size, self.k, self.length = split, size, images_per_scene, length
        self.first = lo if first_scene is None else first_scene
        check_split(split, scenes=[self.first, self.first + (length - 1) // images_per_scene])
        if self.first + (length - 1) // images_per_scene >= hi:
            raise ValueError(f"{length} items run past the end of the {split} scene range")

    def __len__(self) -> int:
        return self.length

    def spec(self, i: int):
        return image_spec(scene(self.first + i // self.k), i % self.k, self.size, self.size)

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        return to_tensors(render(self.spec(i)))


def worker_seed(seed: int, epoch: int = 0, rank: int = 0) -> np.random.Generator:
    """A generator unique to (seed, epoch, rank, DataLoader worker)."""
    info = get_worker_info()
    wid = info.id if info is not None else 0
    return np.random.default_rng([seed, epoch, rank, wid])


class StreamingScenes(IterableDataset):
    """Endless random scenes of `split`, rendered on the fly, `images_per_scene` images each."""

    def __init__(
        self,
        split: str = "train",
        size: int = 256,
        images_per_scene: int = 4,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
    ):
        self.split, self.size, self.k, self.seed, self.epoch, self.rank = (
            split,
            size,
            images_per_scene,
            seed,
            epoch,
            rank,
        )

    def __iter__(self) -> Iterator[dict]:
        rng = worker_seed(self.seed, self.epoch, self.rank)
        lo, hi = scene_range(self.split)
        while True:
            sid = int(rng.integers(lo, hi))
            check_split(self.split, scenes=[sid])
            sc = scene(sid)
            for k in range(self.k):
                yield to_tensors(render(image_spec(sc, k, self.size, self.size)))


class ShardScenes(IterableDataset):
    """Samples read from shards; each DataLoader worker takes every num_workers-th shard."""

    def __init__(self, shards: list[str | Path], split: str = "train"):
        self.shards, self.split = sorted(str(s) for s in shards), split

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        for path in self.shards[wid::nw]:
            for _, sample in read_shard(path):
                spec = sample.meta["spec"]
                check_split(
                    self.split,
                    scenes=[spec["scene"]] if spec["scene"] is not None else [],
                    identities=[p["identity"] for p in spec["people"]],
                )
                yield to_tensors(sample)
