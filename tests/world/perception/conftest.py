import pytest

from layercraft.world.perception.attributes import AttributeClassifier
from layercraft.world.perception.detector import Detector
from layercraft.world.perception.identity import IdentityEncoder


@pytest.fixture(scope="session")
def encoder():
    return IdentityEncoder.from_pretrained()


@pytest.fixture(scope="session")
def detector():
    return Detector.from_pretrained()


@pytest.fixture(scope="session")
def attributes():
    return AttributeClassifier.from_pretrained()
