import pytest

from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline


@pytest.fixture(scope="module")
def pipe():
    p = LayeredCanvasPipeline.from_spec("tiny-test")
    p.set_progress_bar_config(disable=True)
    return p
