"""The bundled Real-ESRGAN files (installed by `python3 make.py`) and a real photo from scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image

from layercraft.upscale import Upscaler
from layercraft.vision.assets import model_path


@pytest.fixture(scope="session")
def anime_files():
    return model_path("realesrgan-x4plus-anime.param"), model_path("realesrgan-x4plus-anime.bin")


@pytest.fixture(scope="session")
def anime(anime_files) -> Upscaler:
    return Upscaler.from_files(*anime_files, device="cpu", dtype=__import__("torch").float32)


@pytest.fixture(scope="session")
def face() -> np.ndarray:
    """The astronaut's head and shoulders, 256 × 256 (a real photograph)."""
    return np.asarray(Image.fromarray(skimage.data.astronaut()).crop((128, 0, 384, 256)))
