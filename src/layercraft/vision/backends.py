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
- `OnnxFaceDetector(path)`: an SCRFD face detector exported to ONNX (insightface's `det_10g.onnx`,
  `scrfd_*_bnkps.onnx`): boxes + the same 5 landmarks. Pass it to `FaceAnalyzer(detector=…)`.
- `SubjectCutout(path)` (in cutout.py) already takes any local ONNX matting / salient-object model.
- Person instances (in instances.py): `OnnxYoloSegPeople(path)` (an ultralytics YOLO-seg ONNX export)
  and `TransformersInstanceSegmentation(folder)` (Mask2Former); pass one to
  `PersonSegmenter(instances=…)`.
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
from .mtcnn import Detections, nms


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


class TransformersFolder:
    """A local transformers model folder for one vision role: the model (loaded with `local_files_only=True`), the
    index of the class named `label`, and the input preprocessing its preprocessor_config.json asks for."""

    def __init__(self, folder: str | Path, auto_class: str, kind: str, label: str, default_size: int,
                 size_divisor: int = 1) -> None:
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise VisionError(f"{folder}: not a transformers model folder (no config.json)")
        try:
            import torch
            import transformers
        except ImportError as err:  # pragma: no cover - dependencies
            raise VisionError(f"this model needs torch and transformers ({err})") from None
        try:
            self.model = getattr(transformers, auto_class).from_pretrained(folder, local_files_only=True).eval()
        except (OSError, ValueError, KeyError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise VisionError(f"{folder}: cannot load a {kind} model ({first})") from None
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        if label.lower() not in labels:
            raise VisionError(f"{folder}: no label {label!r} among {sorted(labels)[:12]}")
        self.label = labels[label.lower()]
        pre = {}
        if (folder / "preprocessor_config.json").is_file():
            pre = json.loads((folder / "preprocessor_config.json").read_text())
        self.mean = np.asarray(pre.get("image_mean", [0.485, 0.456, 0.406]), np.float32)
        self.std = np.asarray(pre.get("image_std", [0.229, 0.224, 0.225]), np.float32)
        s = pre.get("size", default_size)
        if isinstance(s, dict):
            s = s.get("height") or s.get("shortest_edge") or default_size
        self.size_divisor = int(pre.get("size_divisor", size_divisor) or size_divisor)
        self.size = int(s)
        self.name = f"transformers:{folder.name}"
        self.torch = torch

    def pixels(self, rgb: np.ndarray, size: int | None = None):
        """(H, W, 3) uint8 → (1, 3, S, S) normalised pixel values, S = `size` or the folder's."""
        side = size or self.size
        x = np.asarray(Image.fromarray(np.asarray(rgb, np.uint8)).resize((side, side), Image.Resampling.BILINEAR),
                       np.float32)
        x = ((x / 255.0 - self.mean) / self.std).transpose(2, 0, 1)[None]
        return self.torch.from_numpy(np.ascontiguousarray(x, np.float32))


class TransformersPersonMask:
    """Person probability from a local transformers semantic-segmentation folder."""

    def __init__(self, folder: str | Path, *, label: str = "person", size: int | None = None) -> None:
        local = TransformersFolder(folder, "AutoModelForSemanticSegmentation", "semantic-segmentation", label, 512)
        self.model, self.channel, self.size = local.model, local.label, int(size or local.size)
        self._local = local

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        torch = self._local.torch
        with torch.inference_mode():
            logits = self.model(pixel_values=self._local.pixels(rgb, self.size)).logits
            prob = torch.softmax(logits.float(), dim=1)[0, self.channel].numpy()
        return np.asarray(Image.fromarray(prob.astype(np.float32), "F").resize((w, h), Image.Resampling.BILINEAR)
                          ).clip(0, 1)


class OnnxFaceDetector:
    """SCRFD (anchor-free distances per stride, 2 anchors per cell) from an ONNX export.

    The photo is scaled to fit the model's square input (640 by default) at the top-left, scaled
    by (x − 127.5) / 128; per stride s (8, 16, 32, or 8…128 for five levels) the outputs are scores,
    box distances and, with landmarks, 5 point offsets, in units of s from each cell's centre."""

    def __init__(self, path: str | Path, *, size: int = 640, score: float = 0.5, iou: float = 0.4,
                 threads: int = 2) -> None:
        self.session = onnx_session(path, threads)
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        h = inp.shape[2] if len(inp.shape) == 4 and isinstance(inp.shape[2], int) else size
        self.size = int(h)
        n = len(self.session.get_outputs())
        if n not in (6, 9, 10, 15):
            raise VisionError(f"{path}: {n} outputs; an SCRFD export has 6, 9, 10 or 15")
        self.levels = 3 if n in (6, 9) else 5
        self.kps = n in (9, 15)
        self.strides = [8, 16, 32] if self.levels == 3 else [8, 16, 32, 64, 128]
        self.anchors = 2 if self.levels == 3 else 1
        self.score, self.iou = score, iou

    def _centres(self, stride: int) -> np.ndarray:
        side = self.size // stride
        ys, xs = np.mgrid[:side, :side]
        c = np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float64) * stride
        return np.repeat(c, self.anchors, axis=0)

    def detect(self, rgb: np.ndarray, min_face: float | None = None) -> Detections:
        h, w = rgb.shape[:2]
        f = self.size / max(h, w)
        nw, nh = max(1, int(round(w * f))), max(1, int(round(h * f)))
        canvas = np.zeros((self.size, self.size, 3), np.float32)
        canvas[:nh, :nw] = np.asarray(Image.fromarray(np.asarray(rgb, np.uint8)).resize((nw, nh),
                                                                                       Image.Resampling.BILINEAR))
        x = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None].astype(np.float32)
        outs = self.session.run(None, {self._input: x})
        boxes, scores, points = [], [], []
        for k, stride in enumerate(self.strides):
            sc = np.asarray(outs[k], np.float64).reshape(-1)
            dist = np.asarray(outs[k + self.levels], np.float64).reshape(-1, 4) * stride
            c = self._centres(stride)
            keep = np.flatnonzero(sc >= self.score)
            if len(keep) == 0:
                continue
            cc, d = c[keep], dist[keep]
            boxes.append(np.concatenate([cc - d[:, :2], cc + d[:, 2:]], 1))
            scores.append(sc[keep])
            if self.kps:
                off = np.asarray(outs[k + 2 * self.levels], np.float64).reshape(-1, 10)[keep] * stride
                points.append(cc[:, None, :] + off.reshape(-1, 5, 2))
            else:  # no landmarks: a frontal guess inside the box keeps the interface
                b = boxes[-1]
                rel = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.78], [0.65, 0.78]])
                points.append(b[:, None, :2] + rel[None] * (b[:, None, 2:] - b[:, None, :2]))
        if not boxes:
            return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))
        b, s, p = np.concatenate(boxes) / f, np.concatenate(scores), np.concatenate(points) / f
        if min_face is not None:
            big = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= min_face
            b, s, p = b[big], s[big], p[big]
        keep = nms(b, s, self.iou)
        b = b[keep]
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
        return Detections(b, s[keep], p[keep])
