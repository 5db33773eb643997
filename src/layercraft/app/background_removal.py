"""Optional background removal for uploads, used only when a segmentation backend is installed.

The one backend looked for is `rembg`. Without it, the API reports background removal as
unavailable (GET /api/info) and refuses requests for it with 501, naming what to install.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from PIL import Image

Remover = Callable[[Image.Image], Image.Image]
UNAVAILABLE = "background removal needs a segmentation backend: pip install rembg"


def _rembg_remove(image: Image.Image) -> Image.Image:
    from rembg import remove  # imported only when installed and asked for

    return remove(image).convert("RGBA")


def detect_remover() -> Remover | None:
    """The installed backend's remover, or None when no backend is installed."""
    return _rembg_remove if importlib.util.find_spec("rembg") is not None else None
