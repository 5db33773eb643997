"""Real photos that ship inside installed packages, and group photos built from them.

Nothing here is a committed photo: scikit-image's astronaut and LFW subset and matplotlib's
grace_hopper.jpg are read from the installed packages; group photos are pasted copies (mirrored,
rescaled) whose true face positions follow from the single-person detections."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image
from vision_photos import grace_path

from layercraft.vision import FaceAnalyzer, PersonSegmenter, SubjectCutout


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut())


@pytest.fixture(scope="session")
def grace() -> Image.Image:
    return Image.open(grace_path()).convert("RGB")


@pytest.fixture(scope="session")
def no_face() -> Image.Image:
    return Image.fromarray(skimage.data.coffee())


@pytest.fixture(scope="session")
def lfw() -> np.ndarray:
    return skimage.data.lfw_subset()[:100]  # 25×25 grey faces; the other 100 are non-faces


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="session")
def segmenter(analyzer) -> PersonSegmenter:
    return PersonSegmenter(analyzer)


@pytest.fixture(scope="session")
def cutout() -> SubjectCutout:
    return SubjectCutout()
