"""CLIP-T, CLIP-I and DINO similarity from local weight directories (no download).

AnyPhoto appendix 0.A.4 / One-for-All: CLIP-T = cos(CLIP_img(output), CLIP_txt(prompt)); CLIP-I =
cos(CLIP_img(output), CLIP_img(ground truth)); DINO = cos(DINOv2_cls(output), DINOv2_cls(ground truth)).
Reported as raw cosines (the papers' tables, e.g. CLIP-T ≈ 0.33), not CLIPScore's 2.5·max(cos, 0).

Weights come from a directory holding a transformers `CLIPModel` / `Dinov2Model` (and, for CLIP, its
tokenizer); `from_dir` passes `local_files_only=True`, so nothing is ever fetched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _pooled(out) -> torch.Tensor:
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def preprocess(images: Sequence[np.ndarray | Image.Image], size: int, mean, std) -> torch.Tensor:
    """Resize the short side to `size` (bicubic), centre-crop size × size, normalise → (N, 3, size, size)."""
    out = []
    for im in images:
        im = (im if isinstance(im, Image.Image) else Image.fromarray(np.asarray(im, np.uint8))).convert("RGB")
        s = size / min(im.size)
        im = im.resize((max(size, round(im.width * s)), max(size, round(im.height * s))), Image.Resampling.BICUBIC)
        left, top = (im.width - size) // 2, (im.height - size) // 2
        arr = np.asarray(im.crop((left, top, left + size, top + size)), np.float32) / 255.0  # (size, size, 3)
        out.append((arr - np.array(mean, np.float32)) / np.array(std, np.float32))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def _norm_stats(path: Path, mean, std) -> tuple[tuple, tuple]:
    cfg = path / "preprocessor_config.json"
    if cfg.exists():
        d = json.loads(cfg.read_text())
        return tuple(d.get("image_mean", mean)), tuple(d.get("image_std", std))
    return mean, std


class ClipScorer:
    """CLIP-T and CLIP-I with a transformers `CLIPModel` and a tokenizer callable (texts → input_ids)."""

    def __init__(self, model, tokenizer: Callable[[list[str]], dict], mean=CLIP_MEAN, std=CLIP_STD):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.size = int(model.config.vision_config.image_size)
        self.mean, self.std = mean, std

    @classmethod
    def from_dir(cls, path: str | Path) -> ClipScorer:
        from transformers import AutoTokenizer, CLIPModel

        path = Path(path)
        model = CLIPModel.from_pretrained(path, local_files_only=True)
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        max_len = int(model.config.text_config.max_position_embeddings)
        mean, std = _norm_stats(path, CLIP_MEAN, CLIP_STD)
        return cls(model, lambda t: tok(t, padding=True, truncation=True, max_length=max_len, return_tensors="pt"),
                   mean, std)

    @torch.no_grad()
    def image_features(self, images) -> torch.Tensor:
        """→ (N, D) unit-norm projected image embeddings."""
        return _unit(_pooled(self.model.get_image_features(pixel_values=preprocess(images, self.size, self.mean,
                                                                                  self.std))))

    @torch.no_grad()
    def text_features(self, texts: list[str]) -> torch.Tensor:
        """→ (N, D) unit-norm projected text embeddings."""
        tok = dict(self.tokenizer(list(texts)))
        return _unit(_pooled(self.model.get_text_features(**tok)))

    def clip_t(self, images, texts: list[str]) -> np.ndarray:
        """(N,) cosine of each image with its prompt."""
        return (self.image_features(images) * self.text_features(texts)).sum(-1).numpy()

    def clip_i(self, images, references) -> np.ndarray:
        """(N,) cosine of each image with its reference (ground truth) image."""
        return (self.image_features(images) * self.image_features(references)).sum(-1).numpy()


class DinoScorer:
    """DINO similarity: cosine of DINOv2 CLS (pooler) features of output and ground truth."""

    def __init__(self, model, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.model = model.eval()
        self.size = int(model.config.image_size)
        self.mean, self.std = mean, std

    @classmethod
    def from_dir(cls, path: str | Path) -> DinoScorer:
        from transformers import Dinov2Model

        path = Path(path)
        mean, std = _norm_stats(path, IMAGENET_MEAN, IMAGENET_STD)
        return cls(Dinov2Model.from_pretrained(path, local_files_only=True), mean, std)

    @torch.no_grad()
    def features(self, images) -> torch.Tensor:
        """→ (N, D) unit-norm CLS features."""
        return _unit(self.model(pixel_values=preprocess(images, self.size, self.mean, self.std)).pooler_output)

    def dino(self, images, references) -> np.ndarray:
        return (self.features(images) * self.features(references)).sum(-1).numpy()
