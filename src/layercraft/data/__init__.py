"""Training data from real photos: `layercraft data prepare` and the reader the recipes use.

Photos (and video frames) → per-image person RGBA layers, background remainder, faces, 5 landmarks,
identity embeddings and quality figures (`perceive.py`, on `layercraft.vision`); identity clusters,
scenes, reference matching, filters and refusals (`cluster.py`, `prepare.py`); webdataset-style tar
shards in the world's schema (version 2, `world/shards.py`) with a random-access index and a
streaming reader (`dataset.py`). Guide and schema: docs/data.md.
"""

from .dataset import DatasetError, PreparedDataset, fit_sample, iter_samples
from .perceive import PrepareOptions
from .prepare import DataError, prepare

__all__ = ["DataError", "DatasetError", "PrepareOptions", "PreparedDataset", "fit_sample", "iter_samples", "prepare"]
