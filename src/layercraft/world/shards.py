"""Shards in the webdataset layout: plain tar files whose members are `<key>.<field>`, one key per
sample, written and read with the standard library (any webdataset reader can read them too).

Fields: `rgb.png`, `plate.png`, `gt.npz` (layers, visible, parts, person_boxes, face_boxes,
landmarks) and `json` (the sample's meta: spec, attributes, descriptors, prompt).

Schema versions (`meta["schema"]`, absent = 1): version 2 is the one that prepared photo datasets
(`layercraft.data`, docs/data.md) write; it adds two optional arrays to `gt.npz`, `plate_alpha`
(the background remainder: 0 where people were cut out) and `embeddings` (face identity vectors),
and a `source` field (`"world"` or `"photos"`) to the meta. `decode` reads both versions, so one
reader serves the world's shards and prepared datasets.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from .sample import Sample
from .scene import render
from .spec import ImageSpec

_GT = ("layers", "visible", "parts", "person_boxes", "face_boxes", "landmarks")
_GT_OPTIONAL = ("plate_alpha", "embeddings")  # schema 2
SCHEMA_VERSION = 2


def sample_key(spec: ImageSpec) -> str:
    return f"s{spec.scene if spec.scene is not None else 0:09d}_i{spec.index:03d}"


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode(sample: Sample) -> dict[str, bytes]:
    gt = io.BytesIO()
    arrays = {k: getattr(sample, k) for k in _GT}
    arrays.update({k: getattr(sample, k) for k in _GT_OPTIONAL if getattr(sample, k) is not None})
    np.savez_compressed(gt, **arrays)
    return {
        "rgb.png": _png(sample.rgb),
        "plate.png": _png(sample.plate),
        "gt.npz": gt.getvalue(),
        "json": json.dumps(sample.meta).encode(),
    }


def decode(fields: dict[str, bytes]) -> Sample:
    gt = np.load(io.BytesIO(fields["gt.npz"]))
    rgb = np.asarray(Image.open(io.BytesIO(fields["rgb.png"])).convert("RGB"))
    plate = np.asarray(Image.open(io.BytesIO(fields["plate.png"])).convert("RGB"))
    optional = {k: gt[k] for k in _GT_OPTIONAL if k in gt.files}
    return Sample(rgb, plate, *(gt[k] for k in _GT), meta=json.loads(fields["json"]), **optional)


def write_shards(
    specs: Iterable[ImageSpec], out_dir: str | Path, per_shard: int = 256, prefix: str = "world"
) -> list[Path]:
    """Render every spec and write `<prefix>-000000.tar`, … with `per_shard` samples each."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    tar: tarfile.TarFile | None = None
    for n, spec in enumerate(specs):
        if n % per_shard == 0:
            if tar is not None:
                tar.close()
            paths.append(out_dir / f"{prefix}-{len(paths):06d}.tar")
            tar = tarfile.open(paths[-1], "w")
        key = sample_key(spec)
        for field, data in encode(render(spec)).items():
            info = tarfile.TarInfo(f"{key}.{field}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    if tar is not None:
        tar.close()
    return paths


def read_shard(path: str | Path) -> Iterator[tuple[str, Sample]]:
    """(key, sample) for each sample of one shard, in write order."""
    with tarfile.open(path, "r") as tar:
        key, fields = None, {}
        for member in tar:
            if not member.isfile():
                continue
            k, _, field = member.name.partition(".")
            if key is not None and k != key:
                yield key, decode(fields)
                fields = {}
            key = k
            fields[field] = tar.extractfile(member).read()
        if key is not None:
            yield key, decode(fields)
