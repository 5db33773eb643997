"""Reading prepared datasets (and the world's shards): random access, streaming, square crops, info.

- `PreparedDataset(folder)`: `index.json` gives every sample's shard and byte offsets, so a
  sample is one seek per field (`sample(n)`); scenes and identity → images maps for the recipes.
- `PreparedDataset.stream_order(seed, epoch, rank, world_size, worker, num_workers)`: the image
  numbers one stream (a rank's DataLoader worker) reads in one epoch — the split's shards shuffled
  by the epoch's seed, shard `k` of that order to stream `k % (world_size · num_workers)`, each
  shard's images in a seeded order (read by seeks through the index); every image of the split is
  in exactly one stream per epoch. With fewer shards than streams, images are dealt out instead.
- `iter_samples(shards, rank, world_size, worker, num_workers, start, seed, epoch)`: the streaming
  reader without an index — shard `k` (sorted; with `seed`, in the epoch's shuffled order) goes to
  stream `k % (world_size · num_workers)`; `start` skips that many samples of the stream (resume).
  It reads world shards and prepared shards alike (`decode`); any webdataset reader
  (`webdataset.WebDataset(urls).decode()`) reads them as well.
- `fit_sample(sample, size)`: a square `size` crop around the people, resized, with every box,
  landmark and mask moved along.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..world.sample import Sample
from ..world.shards import decode, read_shard


class DatasetError(ValueError):
    """A dataset folder cannot be read; the message says why."""


SPLITS = ("train", "holdout")


class PreparedDataset:
    """A prepared dataset, or one split of it (`split="train"` / `"holdout"`; None: every image).

    `images` (every record, indexed by image number n) and `shards` are always the whole dataset's;
    `indices` (the image numbers of the split), `scenes`, `identities` and `split_shards` (the
    shard numbers holding the split) are the split's. No identity is in both splits."""

    def __init__(self, folder: str | Path, split: str | None = None) -> None:
        self.folder = Path(folder)
        path = self.folder / "index.json"
        if not path.is_file():
            raise DatasetError(f"{self.folder}: not a prepared dataset (no index.json; run `layercraft data prepare`)")
        if split is not None and split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; choose train or holdout")
        self.index = json.loads(path.read_text())
        self.split = split
        self.images: list[dict] = self.index["images"]
        self.shards = [self.folder / "shards" / s for s in self.index["shards"]]

        def inside(n: int) -> bool:
            return split is None or self.images[n].get("split", "train") == split

        self.indices = [n for n in range(len(self.images)) if inside(n)]
        self.scenes: list[list[int]] = [sc for sc in self.index["scenes"] if sc and inside(sc[0])]
        self.identities: dict[int, list[int]] = {int(k): v for k, v in self.index["identities"].items()
                                                 if v and inside(v[0])}
        self.split_shards = sorted({self.images[n]["shard"] for n in self.indices})

    def __len__(self) -> int:
        return len(self.indices)

    def fields(self, n: int) -> dict[str, bytes]:
        rec = self.images[n]
        out = {}
        with open(self.shards[rec["shard"]], "rb") as f:
            for field, (offset, size) in rec["offsets"].items():
                f.seek(offset)
                out[field] = f.read(size)
        return out

    def sample(self, n: int) -> Sample:
        return decode(self.fields(n))

    def meta(self, n: int) -> dict:
        return json.loads(self.fields(n)["json"])

    def stream_order(self, *, seed: int, epoch: int, rank: int = 0, world_size: int = 1, worker: int = 0,
                     num_workers: int = 1) -> list[int]:
        """The image numbers (of this split) that stream `rank · num_workers + worker` reads in `epoch`."""
        stream, streams = rank * num_workers + worker, world_size * num_workers
        if not 0 <= stream < streams:
            raise ValueError(f"stream {rank}/{worker} outside {world_size} ranks × {num_workers} workers")
        rng = np.random.default_rng([seed, epoch])
        if len(self.split_shards) < streams:  # too few shards to give each stream its own: deal images out
            return [self.indices[i] for i in rng.permutation(len(self.indices))][stream::streams]
        by_shard: dict[int, list[int]] = {}
        for n in self.indices:
            by_shard.setdefault(self.images[n]["shard"], []).append(n)
        order = []
        for k, i in enumerate(rng.permutation(len(self.split_shards))):
            if k % streams == stream:
                shard = self.split_shards[i]
                images = by_shard[shard]
                order += [images[j] for j in np.random.default_rng([seed, epoch, shard]).permutation(len(images))]
        return order

    def single_person(self) -> dict[int, list[int]]:
        """identity → images in which that identity is the only person (One-for-All pairs)."""
        out: dict[int, list[int]] = {}
        for n in self.indices:
            rec = self.images[n]
            if len(rec["identities"]) == 1 and rec["identities"][0] >= 0:
                out.setdefault(rec["identities"][0], []).append(n)
        return out


def iter_samples(shards: list[str | Path], *, rank: int = 0, world_size: int = 1, worker: int = 0,
                 num_workers: int = 1, start: int = 0, seed: int | None = None,
                 epoch: int = 0) -> Iterator[tuple[str, Sample]]:
    """(key, sample) of this rank's and worker's shards, in order (with `seed`: the shards in the epoch's
    shuffled order), skipping the first `start`."""
    stream, streams = rank * num_workers + worker, world_size * num_workers
    seen = 0
    paths = sorted(str(s) for s in shards)
    if seed is not None:
        paths = [paths[i] for i in np.random.default_rng([seed, epoch]).permutation(len(paths))]
    for k, path in enumerate(paths):
        if k % streams != stream:
            continue
        for key, sample in read_shard(path):
            if seen >= start:
                yield key, sample
            seen += 1


def _resize(arr: np.ndarray, box: tuple[int, int, int, int], size: int, resample) -> np.ndarray:
    img = Image.fromarray(arr)
    return np.asarray(img.resize((size, size), resample, box=box))


def fit_sample(s: Sample, size: int) -> Sample:
    """A square crop (side = the shorter image side) centred on the people, resized to `size`."""
    h, w = s.rgb.shape[:2]
    side = min(h, w)
    if len(s.person_boxes):
        cx = float((s.person_boxes[:, 0].min() + s.person_boxes[:, 2].max()) / 2)
        top = float(s.face_boxes[:, 1].min()) if s.face_boxes.any() else 0.0
    else:
        cx, top = w / 2, 0.0
    x0 = int(np.clip(round(cx - side / 2), 0, w - side))
    y0 = int(np.clip(round(top - side * 0.15), 0, h - side))
    box = (x0, y0, x0 + side, y0 + side)
    k = size / side
    bil, near = Image.Resampling.BILINEAR, Image.Resampling.NEAREST
    layers = np.stack([_resize(lay, box, size, bil) for lay in s.layers]) if len(s.layers) else \
        np.zeros((0, size, size, 4), np.uint8)
    visible = layers[..., 3] >= 128
    parts = np.zeros((len(s.layers), s.parts.shape[1], size, size), bool)
    for i in range(len(s.layers)):
        for j in range(s.parts.shape[1]):
            parts[i, j] = _resize(s.parts[i, j].astype(np.uint8) * 255, box, size, near) >= 128
    boxes = np.zeros((len(layers), 4), np.int32)
    for i, lay in enumerate(layers):
        ys, xs = np.nonzero(lay[..., 3] > 0)
        if len(xs):
            boxes[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    shift = np.array([x0, y0, x0, y0], np.float32)
    face_boxes = np.where(s.face_boxes.any(1, keepdims=True),
                          np.clip((s.face_boxes - shift) * k, 0, size), 0).round().astype(np.int32)
    landmarks = ((s.landmarks - np.array([x0, y0], np.float32)) * k).astype(np.float32)
    plate_alpha = None if s.plate_alpha is None else _resize(s.plate_alpha, box, size, bil)
    return Sample(_resize(s.rgb, box, size, bil), _resize(s.plate, box, size, bil), layers, visible, parts, boxes,
                  face_boxes, landmarks, s.meta, plate_alpha=plate_alpha, embeddings=s.embeddings)


_PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
            (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128)]


def contact_sheet(ds: PreparedDataset, path: Path, *, cols: int = 6, thumb: int = 160, limit: int = 48) -> Path:
    """Thumbnails (scene order) with each person's box in its identity's colour and `#identity`."""
    n = min(len(ds), limit)
    rows = max(1, -(-n // cols))
    sheet = Image.new("RGB", (cols * thumb, rows * (thumb + 14)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for k in range(n):
        s = ds.sample(ds.indices[k])
        rec = ds.images[ds.indices[k]]
        img = Image.fromarray(s.rgb)
        f = thumb / max(img.size)
        small = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))))
        ox, oy = (k % cols) * thumb, (k // cols) * (thumb + 14)
        sheet.paste(small, (ox, oy))
        for box, ident in zip(s.person_boxes, rec["identities"], strict=True):
            colour = _PALETTE[ident % len(_PALETTE)] if ident >= 0 else (200, 200, 200)
            x0, y0, x1, y1 = (float(v) * f for v in box)
            draw.rectangle((ox + x0, oy + y0, ox + x1 - 1, oy + y1 - 1), outline=colour, width=2)
            draw.text((ox + x0 + 3, oy + y0 + 2), f"#{ident}" if ident >= 0 else "?", fill=colour)
        draw.text((ox + 2, oy + thumb + 1), f"scene {rec['scene']} · {rec['key']}", fill=(220, 220, 220))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    sheet.save(tmp)
    tmp.replace(path)
    return path
