import pytest

from layercraft.world.backgrounds import KINDS, TIMES, background


@pytest.mark.parametrize("kind", KINDS)
def test_every_background_renders_at_small_sizes(kind):
    for size in (16, 32):
        for time in TIMES:
            assert background(kind, time, 3, size, size).shape == (size, size, 3)
