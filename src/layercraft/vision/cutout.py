"""Cut-out of an image's main subject (a person, a garment, an object, a pet) as RGBA.

The bundled model is U²-Net-p (salient object detection, 320×320) run with onnxruntime: the
image is resized to 320×320, scaled to [0, 1] by its maximum and normalised by the ImageNet mean
and standard deviation; the first output (a sigmoid map) is stretched to [0, 1] and resized back to
the image size as the alpha. `OnnxMatting` runs any local ONNX model with the same contract
(one NCHW image input, first output a foreground map), e.g. a user's BiRefNet / ISNet export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .assets import model_path
from .errors import VisionError
from .photo import load_photo

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def onnx_session(path: str | Path, threads: int = 2):
    try:
        import onnxruntime as ort
    except ImportError as err:  # pragma: no cover - a dependency
        raise VisionError(f"this model needs the onnxruntime package ({err})") from None
    path = Path(path)
    if not path.is_file():
        raise VisionError(f"ONNX model not found: {path}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        raise VisionError(f"{path}: not a usable ONNX model ({str(err).splitlines()[0]})") from None


class SubjectCutout:
    """RGBA cut-out of the main subject. `model`: an ONNX file (default: the bundled u2netp.onnx)."""

    def __init__(self, model: str | Path | None = None, *, size: int | None = None, threads: int = 2) -> None:
        self.session = onnx_session(model or model_path("u2netp.onnx"), threads)
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        dims = [d if isinstance(d, int) else None for d in inp.shape]
        self.size = size or (dims[2] if len(dims) == 4 and dims[2] else 320)

    def alpha(self, photo: Image.Image | str | Path) -> np.ndarray:
        """Foreground probability per pixel (float32 in [0, 1], image size)."""
        img = photo if isinstance(photo, Image.Image) else load_photo(photo)
        img = img.convert("RGB")
        x = np.asarray(img.resize((self.size, self.size), Image.Resampling.LANCZOS), np.float32)
        x = x / max(float(x.max()), 1e-6)
        x = ((x - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
        pred = np.asarray(self.session.run(None, {self._input: x})[0], np.float32)
        pred = pred.reshape(pred.shape[-2], pred.shape[-1])
        lo, hi = float(pred.min()), float(pred.max())
        pred = (pred - lo) / (hi - lo) if hi - lo > 1e-6 else np.zeros_like(pred)
        return np.asarray(Image.fromarray(pred, "F").resize(img.size, Image.Resampling.BILINEAR)).clip(0, 1)

    def __call__(self, photo: Image.Image | str | Path) -> Image.Image:
        img = photo if isinstance(photo, Image.Image) else load_photo(photo)
        out = img.convert("RGB").convert("RGBA")
        out.putalpha(Image.fromarray((self.alpha(img) * 255 + 0.5).astype(np.uint8), "L"))
        return out
