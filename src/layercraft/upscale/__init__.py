"""Optional ×4 upscaling with real pretrained weights: Real-ESRGAN (BSD-3) read from its ncnn files into a PyTorch
RRDBNet (`rrdbnet.py`) by our own ncnn reader (`ncnn.py`), run whole or tiled (`upscaler.py`)."""

from .ncnn import NcnnFormatError, read_model, read_param, read_weights
from .rrdbnet import RRDBNet, from_ncnn
from .upscaler import MODELS, TilePlan, UpscaleError, Upscaler

__all__ = ["MODELS", "NcnnFormatError", "RRDBNet", "TilePlan", "UpscaleError", "Upscaler", "from_ncnn",
           "read_model", "read_param", "read_weights"]
