"""Background removal for uploads.

The bundled subject cut-out (`layercraft.vision.SubjectCutout`, U²-Net-p, installed by make.py) is
used when its model file is present; otherwise `rembg` when installed. Without either, the API
reports background removal as unavailable (GET /api/info) and refuses requests for it with 501.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from functools import lru_cache

from PIL import Image

Remover = Callable[[Image.Image], Image.Image]
UNAVAILABLE = "background removal needs a segmentation backend: pip install rembg"


def _rembg_remove(image: Image.Image) -> Image.Image:
    from rembg import remove  # imported only when installed and asked for

    return remove(image).convert("RGBA")


_cutout_lock = threading.Lock()


@lru_cache(maxsize=1)
def _cutout():
    from ..vision.cutout import SubjectCutout

    return SubjectCutout()


def _bundled_remove(image: Image.Image) -> Image.Image:
    with _cutout_lock:  # one model, shared by the requests
        return _cutout()(image)


def detect_remover() -> Remover | None:
    """The bundled cut-out when its model is installed, else rembg when installed, else None."""
    from ..vision.assets import missing_models

    if "u2netp.onnx" not in missing_models():
        return _bundled_remove
    return _rembg_remove if importlib.util.find_spec("rembg") is not None else None
