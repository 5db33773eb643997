import pytest
import torch

from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline


@pytest.fixture(scope="module")
def pipe():
    """The tiny-test pipeline (random weights; 32×32 canvases → an 8×8 token grid): encoders for `build_inputs`, a
    transformer for `velocity`."""
    torch.manual_seed(0)
    p = LayeredCanvasPipeline.from_spec("tiny-test")
    p.set_progress_bar_config(disable=True)
    return p
