"""Training data from real photos: `layercraft data prepare` and the reader the recipes use.

Photos (and video frames) → per-image person RGBA layers, background remainder, faces, 5 landmarks,
identity embeddings and quality figures (`perceive.py`, on `layercraft.vision`); identity clusters,
scenes, reference matching, filters and refusals (`cluster.py`, `prepare.py`); webdataset-style tar
shards in the world's schema (version 2, `world/shards.py`) with a random-access index and a
streaming reader (`dataset.py`). Guide and schema: docs/data.md.
"""

from ..lazy import exports, lazy_exports

_WHERE = exports(
    dataset="DatasetError PreparedDataset fit_sample iter_samples",
    perceive="PrepareOptions",
    prepare="DataError prepare",
)
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
