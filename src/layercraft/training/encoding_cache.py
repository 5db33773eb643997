"""Text embeddings and VAE latents computed once per training set and reused every step.

A real-scale model spends much of its memory on frozen encoders (FLUX.1's T5-XXL is 9.5 GB in bf16) that only
ever see the same prompts and images again. Diffusers' Flux training scripts precompute both; here the cache
sits behind the two seams `denoise.build_inputs` encodes through (`Encoders.encode_text` and the VAE), so the
canvas task builds exactly the inputs it would build without it:

- text: (prompt, max_length) → (token states (T, D), pooled (Dp,)), in the dtype the encoder produced;
- latents: the exact image tensor handed to the VAE (hashed) → its latent mode (C, h, w), before scaling.

Entries live on the CPU and move to the accelerator per batch. `save` writes a temporary file and renames it, so
a crash mid-write never leaves a truncated cache behind. Once `frozen`, a miss is an error naming the input,
instead of a silent encoder run on whatever device the offloaded encoders sit.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

FORMAT = 1


class CacheMiss(KeyError):
    pass


def image_key(image: torch.Tensor) -> str:
    """A content key for one image tensor (3, H, W): its shape, dtype and bytes."""
    t = image.detach().to("cpu").contiguous()
    h = hashlib.sha1(f"{tuple(t.shape)}{t.dtype}".encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes())
    return h.hexdigest()


@dataclass
class _LatentDist:
    z: torch.Tensor

    def mode(self) -> torch.Tensor:
        return self.z


@dataclass
class _EncoderOutput:
    latent_dist: _LatentDist


class EncodingCache:
    def __init__(self, meta: dict[str, Any] | None = None):
        self.text: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.latents: dict[str, torch.Tensor] = {}
        self.meta = dict(meta or {})
        self.frozen = False
        self.misses = 0

    def __len__(self) -> int:
        return len(self.text) + len(self.latents)

    # ---- the two seams ----------------------------------------------------------------------------------
    def text_encoder(self, encode_text, device: torch.device, dtype: torch.dtype):
        """A `TextEncoder` that answers from the cache and encodes (then stores) only what it has not seen."""

        def encode(prompts: list[str], max_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
            keys = [f"{max_length}\x00{p}" for p in prompts]
            todo = list(dict.fromkeys(k for k in keys if k not in self.text))
            if todo:
                if self.frozen:
                    raise CacheMiss(f"prompt {todo[0].split(chr(0), 1)[1]!r} (max_length {max_length}) is not in the "
                                    "precomputed encoding cache")
                self.misses += len(todo)
                tokens, pooled = encode_text([k.split("\x00", 1)[1] for k in todo], max_length)
                for k, t, p in zip(todo, tokens, pooled, strict=True):
                    self.text[k] = (t.detach().cpu(), p.detach().cpu())
            tokens = torch.stack([self.text[k][0] for k in keys]).to(device, dtype)
            pooled = torch.stack([self.text[k][1] for k in keys]).to(device, dtype)
            return tokens, pooled

        return encode

    def vae(self, vae) -> CachedVAE:
        return CachedVAE(self, vae)

    # ---- disk -------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save({"format": FORMAT, "meta": self.meta, "text": self.text, "latents": self.latents}, tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> EncodingCache:
        data = torch.load(Path(path), map_location="cpu", weights_only=True)
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: encoding cache format {data.get('format')}, expected {FORMAT}")
        cache = cls(data["meta"])
        cache.text, cache.latents = data["text"], data["latents"]
        return cache


class CachedVAE:
    """Stands in for the VAE where `to_latents` encodes: same config, answers `encode` from the cache.

    It reports the CPU and float32 so callers hand it the images exactly as built (the key); misses go to the
    real VAE on its own device and dtype, as the uncached path would run them."""

    def __init__(self, cache: EncodingCache, vae):
        self.cache, self.inner = cache, vae
        self.config = vae.config
        self.device, self.dtype = torch.device("cpu"), torch.float32

    def encode(self, images: torch.Tensor) -> _EncoderOutput:
        keys = [image_key(x) for x in images]
        todo = [i for i, k in enumerate(keys) if k not in self.cache.latents]
        if todo:
            if self.cache.frozen:
                raise CacheMiss(f"an image of shape {tuple(images.shape[1:])} is not in the precomputed encoding cache")
            self.cache.misses += len(todo)
            x = images[todo].to(self.inner.device, self.inner.dtype)
            z = self.inner.encode(x).latent_dist.mode()
            for i, zi in zip(todo, z, strict=True):
                self.cache.latents[keys[i]] = zi.detach().cpu()
        return _EncoderOutput(_LatentDist(torch.stack([self.cache.latents[k] for k in keys])))
