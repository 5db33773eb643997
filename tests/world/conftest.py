import pytest

from layercraft.world.layout import image_spec, scene
from layercraft.world.scene import render


@pytest.fixture(scope="session")
def crowd():
    """A heavily occluded 6-person image (rendered once per test session)."""
    return render(image_spec(scene(12, n_people=6, occlusion="heavy"), 0))
