"""Bigger models a user has on disk, for the same roles as the bundled ones; never any network.

- `OnnxFaceEmbedder(path)`: an ArcFace-style identity model exported to ONNX (e.g. insightface's
  `w600k_r50.onnx` from buffalo_l / antelopev2): input N×3×S×S RGB scaled by (x − 127.5) / 127.5,
  the face aligned on the ArcFace template at S×S; output one embedding per face, compared by
  cosine. Its same-person `threshold` is the user's to set from their own calibration (0.3 by
  default, a common operating point for these models).
- `TransformersPersonMask(folder)`: a transformers semantic-segmentation model folder (SegFormer,
  BEiT, DPT, UperNet…: any `AutoModelForSemanticSegmentation` whose output has `logits`) loaded
  with `local_files_only=True`; the person probability is the softmax channel of the label named
  `person` (or `label`). Mean, std and size come from the folder's preprocessor_config.json.
  Pass it to `PersonSegmenter(segmenter=…)`.
- `SubjectCutout(path)` (in cutout.py) already takes any local ONNX matting / salient-object model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .cutout import onnx_session
from .errors import VisionError
from .faces import Face, align_face


class OnnxFaceEmbedder:
    """ArcFace-style ONNX identity model; similarity is the cosine of L2-normalised embeddings."""

    def __init__(self, path: str | Path, *, threshold: float = 0.3, threads: int = 2) -> None:
        self.session = onnx_session(path, threads)
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        shape = list(inp.shape)
        if len(shape) != 4:
            raise VisionError(f"{path}: expected one image input N×3×S×S, got shape {shape}")
        self._nhwc = shape[-1] == 3
        side = shape[1] if self._nhwc else shape[2]
        self.size = side if isinstance(side, int) and side > 0 else 112
        out = self.session.get_outputs()[0].shape
        self.dim = int(out[-1]) if isinstance(out[-1], int) else 0
        self.threshold = float(threshold)
        self.name = f"onnx:{Path(path).name}"

    def embed(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, self.dim), np.float32)
        img = Image.fromarray(np.asarray(rgb, np.uint8))
        crops = np.stack([np.asarray(align_face(img, f.landmarks, self.size), np.float32) for f in faces])
        x = (crops - 127.5) / 127.5
        if not self._nhwc:
            x = x.transpose(0, 3, 1, 2)
        out = np.concatenate([np.asarray(self.session.run(None, {self._input: x[i:i + 1]})[0], np.float32)
                              for i in range(len(x))]).reshape(len(faces), -1)
        self.dim = out.shape[1]
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
        return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


class TransformersPersonMask:
    """Person probability from a local transformers semantic-segmentation folder."""

    def __init__(self, folder: str | Path, *, label: str = "person", size: int | None = None) -> None:
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise VisionError(f"{folder}: not a transformers model folder (no config.json)")
        try:
            import torch
            from transformers import AutoModelForSemanticSegmentation
        except ImportError as err:  # pragma: no cover - dependencies
            raise VisionError(f"this model needs torch and transformers ({err})") from None
        try:
            self.model = AutoModelForSemanticSegmentation.from_pretrained(folder, local_files_only=True).eval()
        except (OSError, ValueError, KeyError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise VisionError(f"{folder}: cannot load a semantic-segmentation model ({first})") from None
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        if label.lower() not in labels:
            raise VisionError(f"{folder}: no label {label!r} among {sorted(labels)[:12]}")
        self.channel = labels[label.lower()]
        pre = {}
        if (folder / "preprocessor_config.json").is_file():
            pre = json.loads((folder / "preprocessor_config.json").read_text())
        self.mean = np.asarray(pre.get("image_mean", [0.485, 0.456, 0.406]), np.float32)
        self.std = np.asarray(pre.get("image_std", [0.229, 0.224, 0.225]), np.float32)
        s = pre.get("size", 512)
        if isinstance(s, dict):
            s = s.get("height") or s.get("shortest_edge") or 512
        self.size = int(size or s)
        self._torch = torch

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        x = np.asarray(Image.fromarray(np.asarray(rgb, np.uint8)).resize((self.size, self.size),
                                                                          Image.Resampling.BILINEAR), np.float32)
        x = ((x / 255.0 - self.mean) / self.std).transpose(2, 0, 1)[None]
        torch = self._torch
        with torch.inference_mode():
            logits = self.model(pixel_values=torch.from_numpy(np.ascontiguousarray(x))).logits
            prob = torch.softmax(logits.float(), dim=1)[0, self.channel].numpy()
        return np.asarray(Image.fromarray(prob.astype(np.float32), "F").resize((w, h), Image.Resampling.BILINEAR)
                          ).clip(0, 1)
