"""Person *instance* segmentation from models a user has on disk; never any network.

Both backends take an RGB uint8 array and return `Instance`s: a box (photo pixels), a score and a
soft alpha (float32 in [0, 1], photo size), one per person. Pass one to
`PersonSegmenter(instances=…)` and the person layers come from its instances instead of the split
of a one-class mask.

- `OnnxYoloSegPeople(path)`: a YOLOv8 / YOLO11 segmentation model exported to ONNX by ultralytics
  (`yolo export model=yolov8n-seg.pt format=onnx`). Input 1×3×S×S RGB / 255, the photo letterboxed
  (scaled to fit, centred, grey 114 padding); `output0` (1, 4 + nc + 32, N): per candidate the box
  centre x, y, width, height (model pixels), nc class scores and 32 mask coefficients; `output1`
  (1, 32, S/4, S/4): mask prototypes. A person's mask is sigmoid(coefficients · prototypes), zero
  outside its box, taken out of the letterbox and resized to the photo.
- `TransformersInstanceSegmentation(folder)`: a transformers universal-segmentation folder
  (Mask2Former, `AutoModelForUniversalSegmentation`) loaded with `local_files_only=True`. The
  post-processing is done here from `class_queries_logits` / `masks_queries_logits` (without
  torchvision the image processor falls back to its PIL variant, whose result is a hard label map;
  here every instance keeps a soft mask): per query
  the softmax over the labels without the last ("no object") one; a query whose best label is the
  person label, with probability ≥ `score`, is one person; its mask is the sigmoid of its mask
  logits resized to the photo, and its score the class probability times the mean mask
  probability inside its binary mask (as transformers scores instances).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .backends import TransformersFolder
from .cutout import onnx_session
from .errors import VisionError
from .mtcnn import nms


@dataclass
class Instance:
    box: np.ndarray  # x0, y0, x1, y1 (photo pixels, float)
    score: float
    alpha: np.ndarray  # float32 (H, W) in [0, 1], photo size


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def _box_of(alpha: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    ys, xs = np.nonzero(alpha >= threshold)
    if len(xs) == 0:
        return np.zeros(4)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int], tuple[int, int]]:
    """Ultralytics' letterbox: scale r = min(S / h, S / w), resized to (round(w r), round(h r)), centred
    on a 114-grey S×S canvas. Returns the canvas, r, (left, top) padding and the resized (w, h)."""
    h, w = rgb.shape[:2]
    r = min(size / h, size / w)
    nw, nh = max(1, int(round(w * r))), max(1, int(round(h * r)))
    dw, dh = (size - nw) / 2, (size - nh) / 2
    left, top = int(round(dw - 0.1)), int(round(dh - 0.1))
    canvas = np.full((size, size, 3), 114, np.uint8)
    img = Image.fromarray(np.asarray(rgb, np.uint8))
    canvas[top:top + nh, left:left + nw] = np.asarray(img.resize((nw, nh), Image.Resampling.BILINEAR)
                                                      if (nw, nh) != (w, h) else img)
    return canvas, r, (left, top), (nw, nh)


class OnnxYoloSegPeople:
    """People from an ultralytics YOLO-seg ONNX export (YOLOv8 / YOLO11 layout, no NMS in the graph)."""

    def __init__(self, path: str | Path, *, score: float = 0.25, iou: float = 0.7, label: str = "person",
                 threads: int = 2) -> None:
        self.session = onnx_session(path, threads)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or len(outputs) != 2:
            raise VisionError(f"{path}: not a YOLO-seg export (one image input and two outputs, boxes and "
                              f"mask prototypes, expected; got {len(inputs)} input(s), {len(outputs)} output(s))")
        self._input = inputs[0].name
        side = inputs[0].shape[2]
        self.size = int(side) if isinstance(side, int) and side > 0 else 640
        shapes = [o.shape for o in outputs]
        if len(shapes[0]) != 3 or len(shapes[1]) != 4:
            raise VisionError(f"{path}: not a YOLO-seg export (outputs of shapes {shapes})")
        self.nm = int(shapes[1][1]) if isinstance(shapes[1][1], int) else 32
        self.names: dict[int, str] = {}
        meta = self.session.get_modelmeta().custom_metadata_map or {}
        if "names" in meta:
            try:
                self.names = {int(k): str(v) for k, v in ast.literal_eval(meta["names"]).items()}
            except (ValueError, SyntaxError, AttributeError):
                self.names = {}
        if self.names:
            ids = [k for k, v in self.names.items() if v.lower() == label.lower()]
            if not ids:
                raise VisionError(f"{path}: no class {label!r} among {sorted(self.names.values())[:12]}")
            self.person = ids[0]
        else:
            self.person = 0  # COCO order: class 0 is person
        self.score, self.iou = float(score), float(iou)
        self.name = f"onnx:{Path(path).name}"

    def __call__(self, rgb: np.ndarray) -> list[Instance]:
        rgb = np.asarray(rgb, np.uint8)
        h, w = rgb.shape[:2]
        canvas, r, (left, top), (nw, nh) = letterbox(rgb, self.size)
        x = (canvas.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        pred, protos = (np.asarray(o, np.float32) for o in self.session.run(None, {self._input: x}))
        pred = pred[0].T  # (N, 4 + nc + nm)
        protos = protos[0]
        nc = pred.shape[1] - 4 - self.nm
        if nc <= self.person:
            raise VisionError(f"{self.name}: {nc} classes in the output, no class {self.person}")
        scores = pred[:, 4 + self.person]
        keep = np.flatnonzero(scores >= self.score)
        if len(keep) == 0:
            return []
        cx, cy, bw, bh = pred[keep, 0], pred[keep, 1], pred[keep, 2], pred[keep, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1).astype(np.float64)
        order = nms(boxes, scores[keep].astype(np.float64), self.iou)
        boxes, sc, coef = boxes[order], scores[keep][order], pred[keep][order, 4 + nc:]
        ph, pw = protos.shape[1:]
        masks = _sigmoid(coef @ protos.reshape(self.nm, -1)).reshape(-1, ph, pw).astype(np.float32)
        sx, sy = pw / self.size, ph / self.size  # model → prototype pixels
        # the letterboxed photo, in prototype pixels: the part of each mask resized to the photo
        src = (left * sx, top * sy, (left + nw) * sx, (top + nh) * sy)
        ys, xs = np.arange(h)[:, None] + 0.5, np.arange(w)[None, :] + 0.5
        out = []
        for b, s, m in zip(boxes, sc, masks, strict=True):
            alpha = np.asarray(Image.fromarray(m, "F").resize((w, h), Image.Resampling.BILINEAR, box=src))
            photo_box = np.array([(b[0] - left) / r, (b[1] - top) / r, (b[2] - left) / r, (b[3] - top) / r])
            photo_box[[0, 2]] = photo_box[[0, 2]].clip(0, w)
            photo_box[[1, 3]] = photo_box[[1, 3]].clip(0, h)
            # the mask is cut at the box in photo pixels (sharper than at the prototypes' resolution)
            alpha = np.where((xs >= photo_box[0]) & (xs < photo_box[2]) & (ys >= photo_box[1]) & (ys < photo_box[3]),
                             alpha, 0.0)
            if not (alpha >= 0.5).any():
                continue
            out.append(Instance(box=photo_box, score=float(s), alpha=alpha.clip(0, 1).astype(np.float32)))
        return out


class TransformersInstanceSegmentation:
    """People from a local transformers universal-segmentation folder (Mask2Former)."""

    def __init__(self, folder: str | Path, *, label: str = "person", score: float = 0.5, size: int | None = None,
                 threshold: float = 0.5) -> None:
        local = TransformersFolder(folder, "AutoModelForUniversalSegmentation", "universal-segmentation", label,
                                   384, size_divisor=32)
        div = local.size_divisor
        self.model, self.label, self.name, self._local = local.model, local.label, local.name, local
        self.size = max(div, int(round(int(size or local.size) / div)) * div)
        self.score, self.threshold = float(score), float(threshold)

    def __call__(self, rgb: np.ndarray) -> list[Instance]:
        rgb = np.asarray(rgb, np.uint8)
        h, w = rgb.shape[:2]
        torch = self._local.torch
        with torch.inference_mode():
            out = self.model(pixel_values=self._local.pixels(rgb, self.size))
            cls = torch.softmax(out.class_queries_logits[0].float(), -1)[:, :-1].numpy()
            masks = torch.sigmoid(out.masks_queries_logits[0].float()).numpy()
        best = cls.argmax(1)
        found = []
        for q in np.flatnonzero((best == self.label) & (cls[:, self.label] >= self.score)):
            alpha = np.asarray(Image.fromarray(masks[q].astype(np.float32), "F").resize((w, h),
                                                                                      Image.Resampling.BILINEAR))
            alpha = alpha.clip(0, 1).astype(np.float32)
            binary = alpha >= self.threshold
            if not binary.any():
                continue
            s = float(cls[q, self.label]) * float(alpha[binary].mean())
            found.append(Instance(box=_box_of(alpha, self.threshold), score=s, alpha=alpha))
        found.sort(key=lambda i: -i.score)
        return found


def load_instances(path: str | Path) -> OnnxYoloSegPeople | TransformersInstanceSegmentation:
    """A file is read as a YOLO-seg ONNX export, a folder as a transformers universal-segmentation model."""
    path = Path(path)
    if path.is_dir():
        return TransformersInstanceSegmentation(path)
    if path.is_file():
        return OnnxYoloSegPeople(path)
    raise VisionError(f"instance segmentation model not found: {path}")
