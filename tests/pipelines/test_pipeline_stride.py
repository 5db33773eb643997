"""The pipeline refuses canvases at the stride the studio and `canvas validate` use, not only its own."""

import pytest
import torch

from layercraft.canvas import CanvasError
from layercraft.canvas.limits import LIMITS
from lc_canvases import canvas


def test_the_pipeline_checks_the_project_stride(pipe):
    assert pipe.stride < LIMITS.stride  # the tiny model alone would take multiples of its own stride
    cv = canvas(1, side=24)  # a multiple of the model's stride, not of the project's
    assert cv.width % pipe.stride == 0
    with pytest.raises(CanvasError, match=f"not a multiple of the model stride {LIMITS.stride}"):
        pipe("a person", cv, num_inference_steps=1, output_type="pt", generator=torch.Generator().manual_seed(0))
