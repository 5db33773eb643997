"""MTCNN face detection (Zhang et al. 2016): three small CNNs in a cascade, written for torch here.

P-Net proposes windows on an image pyramid, R-Net refines them on 24×24 crops, O-Net on 48×48
crops gives the final box, score and 5 landmarks (image-left eye, image-right eye, nose, left and
right mouth corner: the ArcFace order). The weights are the facenet-pytorch release (converted
from the authors' Caffe models), read as plain state dicts with `torch.load(weights_only=True)`.
The networks keep the Caffe models' layout: R-Net and O-Net flatten their last feature map in
(width, height, channel) order, which the `permute` below reproduces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .assets import model_path


class PNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), F.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), F.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_3(x), F.softmax(self.dense6_1(x), dim=1)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best score first. `mode='min'` divides by the smaller area."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    x0, y0, x1, y1 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / denom <= threshold]
    return np.asarray(keep, np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2:4] = out[:, :2] + side[:, None]
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, 0:4] = boxes[:, 0:4] + reg * np.stack([w, h, w, h], 1)
    return out


def _crops(img: Image.Image, boxes: np.ndarray, size: int) -> torch.Tensor:
    """Crops of the RGB image at integer `boxes` (black outside), area-averaged to size², normalised."""
    if len(boxes) == 0:
        return torch.zeros(0, 3, size, size)
    out = np.empty((len(boxes), size, size, 3), np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(np.floor(boxes[:, :4]).astype(np.int64)):
        box = (int(x0), int(y0), int(max(x1, x0 + 1)), int(max(y1, y0 + 1)))
        out[k] = np.asarray(img.crop(box).resize((size, size), Image.Resampling.BOX))
    return (torch.from_numpy(out).permute(0, 3, 1, 2).float() - 127.5) * 0.0078125


@dataclass
class Detections:
    boxes: np.ndarray  # (n, 4) x0, y0, x1, y1
    scores: np.ndarray  # (n,)
    landmarks: np.ndarray  # (n, 5, 2)


class MTCNN:
    """The cascade. `min_face` in pixels of the image given to `detect`; thresholds per stage."""

    def __init__(self, *, min_face: float = 20.0, factor: float = 0.709,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7), batch: int = 512) -> None:
        self.min_face, self.factor, self.thresholds, self.batch = min_face, factor, thresholds, batch
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        for net, name in ((self.pnet, "mtcnn_pnet.pt"), (self.rnet, "mtcnn_rnet.pt"), (self.onet, "mtcnn_onet.pt")):
            state = torch.load(model_path(name), map_location="cpu", weights_only=True)
            net.load_state_dict(state)
            net.eval()

    def _scales(self, h: int, w: int, min_face: float) -> list[float]:
        m = 12.0 / max(min_face, 12.0)
        side = min(h, w) * m
        scales, s = [], m
        while side >= 12:
            scales.append(s)
            s *= self.factor
            side *= self.factor
        return scales

    def _batched(self, net: nn.Module, x: torch.Tensor):
        outs = [net(x[i:i + self.batch]) for i in range(0, len(x), self.batch)]
        return [torch.cat(parts).numpy() for parts in zip(*outs, strict=True)]

    @torch.inference_mode()
    def detect(self, rgb: np.ndarray, min_face: float | None = None) -> Detections:
        """Faces in an (H, W, 3) uint8 RGB array, in its pixel coordinates."""
        h, w = rgb.shape[:2]
        pil = Image.fromarray(np.asarray(rgb, np.uint8))
        img = (torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].float() - 127.5) * 0.0078125
        t1, t2, t3 = self.thresholds
        found = []
        for s in self._scales(h, w, self.min_face if min_face is None else min_face):
            hs, ws = math.ceil(h * s), math.ceil(w * s)
            reg, prob = self.pnet(F.interpolate(img, size=(hs, ws), mode="area"))
            prob, reg = prob[0, 1].numpy(), reg[0].numpy()
            ys, xs = np.nonzero(prob >= t1)
            if len(ys) == 0:
                continue
            score = prob[ys, xs]
            q0 = np.stack([xs, ys], 1) * 2.0 + 1.0
            boxes = np.concatenate([q0 / s, (q0 + 11.0) / s, score[:, None], reg[:, ys, xs].T], 1)
            found.append(boxes[nms(boxes[:, :4], score, 0.5)])
        empty = Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))
        if not found:
            return empty
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        boxes = _square(np.concatenate([_regress(boxes[:, :4], boxes[:, 5:9]), boxes[:, 4:5]], 1))

        reg, prob = self._batched(self.rnet, _crops(pil, boxes, 24))
        keep = prob[:, 1] >= t2
        boxes, reg = boxes[keep], reg[keep]
        boxes[:, 4] = prob[keep, 1]
        if len(boxes) == 0:
            return empty
        k = nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes = _square(np.concatenate([_regress(boxes[k, :4], reg[k]), boxes[k, 4:5]], 1))

        reg, pts, prob = self._batched(self.onet, _crops(pil, boxes, 48))
        keep = prob[:, 1] >= t3
        boxes, reg, pts = boxes[keep], reg[keep], pts[keep]
        if len(boxes) == 0:
            return empty
        bw = boxes[:, 2] - boxes[:, 0] + 1
        bh = boxes[:, 3] - boxes[:, 1] + 1
        lx = bw[:, None] * pts[:, :5] + boxes[:, 0:1] - 1
        ly = bh[:, None] * pts[:, 5:] + boxes[:, 1:2] - 1
        scores = prob[keep, 1]
        boxes = _regress(boxes[:, :4], reg)
        k = nms(boxes, scores, 0.7, mode="min")
        boxes = boxes[k]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return Detections(boxes, scores[k], np.stack([lx[k], ly[k]], 2))
