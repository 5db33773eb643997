"""The `autoencoder` stage: a KL autoencoder (diffusers `AutoencoderKL`) learned on studio-world renders.

Each training image is a random crop of a 256² world render of the training split: either the whole image
(background and people) or, with probability `p_canvas`, some of its people's RGBA layers over white — what a
canvas looks like to the autoencoder (`denoise.canvas_pixels`). The loss is L1 + `ssim_weight`·(1 − SSIM)/2
(kornia) + `kl_weight`·KL / (3·H·W), the encoder's posterior sampled with the step's generator. The KL (summed over
the latent) is divided by the number of pixel values because L1 is their mean: `kl_weight` then means what it means
in latent diffusion's autoencoders (1e-6 against the *summed* reconstruction error); a KL weighted as if L1 were a
sum is ≈ 50,000× too strong at 128² crops and its noisy posterior blurs colours and patterns away. The network is fully
convolutional (no attention), so crops train it for any size. Export measures the latents' mean and spread on
held-out images and stores them as `shift_factor` / `scaling_factor`, as FLUX's VAE does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from ...models.autoencoder import world_autoencoder
from ...world.layout import image_spec, scene
from ...world.scene import render
from ...world.splits import scene_range
from ..config import TrainConfig
from ..task import step_seed


class AutoencoderTaskArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(256, ge=32)  # side of the rendered world images
    crop: int = Field(128, ge=16)  # side of the training crops (a multiple of 8)
    p_canvas: float = Field(0.4, ge=0.0, le=1.0)  # share of images that are people layers over white
    kl_weight: float = Field(1e-6, ge=0.0)  # on the KL sum, against the reconstruction error summed over pixels
    ssim_weight: float = Field(0.5, ge=0.0)
    # extra L1 weight on face pixels (grown by 2 px): faces are a few pixels wide, and expressions live in them
    face_weight: float = Field(0.0, ge=0.0)
    overrides: dict = Field(default_factory=dict)  # AutoencoderKL keywords over `WORLD_AUTOENCODER`
    validation_images: int = Field(16, ge=1)  # held-out images for the sample sheet, metrics and latent statistics
    init_from: Path | None = None  # an AutoencoderKL folder to continue from (its config wins over `overrides`)


def world_image(scene_id: int, index: int, size: int, canvas: bool, rng: np.random.Generator,
                faces: bool = False) -> np.ndarray:
    """(size, size, 3) uint8: a world render, or (`canvas`) a non-empty random subset of its people over white.
    `faces`: (size, size, 4), the 4th channel 255 on the visible face pixels (0 elsewhere)."""
    s = render(image_spec(scene(scene_id), index, size, size))
    face = np.zeros((size, size), bool)
    if not canvas or s.n == 0:
        rgb = s.rgb
        if s.n:
            face = (s.parts[:, 0] & s.visible).any(0)
    else:
        keep = rng.random(s.n) < 0.6
        keep[rng.integers(s.n)] = True
        out = np.full((size, size, 3), 255.0, np.float32)
        for i in np.flatnonzero(keep):  # back to front: a later layer covers an earlier face
            a = s.layers[i][..., 3:].astype(np.float32) / 255.0
            out = s.layers[i][..., :3] * a + out * (1.0 - a)
            face = np.where(s.layers[i][..., 3] > 0, s.parts[i, 0], face)
        rgb = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    if not faces:
        return rgb
    return np.concatenate([rgb, face[..., None].astype(np.uint8) * 255], -1)


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """uint8 (H, W, C) images → (B, C, H, W) float in [-1, 1] (a face channel: -1 off, 1 on)."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def reconstruction_metrics(model, images: torch.Tensor) -> dict[str, float]:
    """PSNR (dB) and SSIM of the posterior-mode reconstruction of (B, 3, H, W) images in [-1, 1]."""
    import kornia

    with torch.no_grad():
        rec = model.decode(model.encode(images.to(model.dtype)).latent_dist.mode()).sample.float().clamp(-1, 1)
    a, b = (rec + 1) / 2, (images.float() + 1) / 2
    mse = ((a - b) ** 2).flatten(1).mean(1)
    return {"psnr": float((10 * torch.log10(1.0 / mse.clamp_min(1e-10))).mean()),
            "ssim": float(kornia.metrics.ssim(a, b, 11).mean())}


class AutoencoderTask:
    """Trains `world_autoencoder()` from scratch (see the module docstring)."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.args = AutoencoderTaskArgs(**cfg.task_args)
        if self.args.crop % 8 or self.args.crop > self.args.size:
            raise ValueError(f"crop {self.args.crop} must be a multiple of 8 and at most size {self.args.size}")
        torch.manual_seed(cfg.seed)
        if self.args.init_from is not None:
            from diffusers import AutoencoderKL

            if not (Path(self.args.init_from) / "config.json").is_file():
                raise FileNotFoundError(f"init_from {self.args.init_from}: not an AutoencoderKL folder "
                                        "(no config.json)")
            self.model = AutoencoderKL.from_pretrained(self.args.init_from)
        else:
            self.model = world_autoencoder(**self.args.overrides)
        self._val: torch.Tensor | None = None

    def trainable_parameters(self):
        return self.model.parameters()

    def batch(self, index: int, rank: int, batch_size: int) -> torch.Tensor:
        """(B, 4, crop, crop) in [-1, 1], RGB and the face mask: a pure function of (seed, index, rank)."""
        rng = np.random.default_rng(step_seed(self.cfg.seed, index, rank, 0xAE))
        lo, hi = scene_range("train")
        a, images = self.args, []
        for _ in range(batch_size):
            img = world_image(int(rng.integers(lo, hi)), int(rng.integers(4)), a.size, rng.random() < a.p_canvas, rng,
                              faces=True)
            y, x = (int(v) for v in rng.integers(0, a.size - a.crop + 1, size=2))
            img = img[y:y + a.crop, x:x + a.crop]
            images.append(img[:, ::-1] if rng.random() < 0.5 else img)
        return to_tensor([np.ascontiguousarray(i) for i in images])

    def loss(self, model, batch: torch.Tensor, generator: torch.Generator):
        import kornia

        batch = batch.to(next(model.parameters()).device)
        images, face = batch[:, :3], batch[:, 3:] > 0  # (B, 3, H, W), (B, 1, H, W)
        posterior = model.encode(images).latent_dist
        rec = model.decode(posterior.sample(generator=generator)).sample  # (B, 3, H, W)
        # L1 weighted 1 + face_weight on face pixels grown by 2 px, normalised to the mean weight
        err = (rec.float() - images).abs()  # (B, 3, H, W)
        w = 1.0 + self.args.face_weight * F.max_pool2d(face.float(), 5, 1, 2)  # (B, 1, H, W)
        l1 = (err * w).mean() / w.mean()
        ssim = kornia.losses.ssim_loss((rec.float() + 1) / 2, (images + 1) / 2, window_size=11)
        kl = posterior.kl().mean()  # summed over the latent, mean over the batch
        loss = l1 + self.args.ssim_weight * ssim + self.args.kl_weight * kl / images[0].numel()
        face_l1 = err.mean(1, keepdim=True)[face].mean() if face.any() else l1
        return loss, {"l1": float(l1.detach()), "face_l1": float(face_l1.detach()), "ssim_loss": float(ssim.detach()),
                      "kl": float(kl.detach())}

    def validation(self) -> torch.Tensor:
        """Fixed whole images of the validation split (half canvas-like), (N, 3, size, size)."""
        if self._val is None:
            rng = np.random.default_rng(self.cfg.seed + 1)
            lo, _ = scene_range("val")
            self._val = to_tensor([world_image(lo + k, k % 4, self.args.size, k % 2 == 1, rng)
                                   for k in range(self.args.validation_images)])
        return self._val

    @torch.no_grad()
    def sample(self, model, step: int, out_dir: Path) -> None:
        model.eval()
        images = self.validation()[:6]
        rec = model.decode(model.encode(images.to(model.dtype)).latent_dist.mode()).sample.float().clamp(-1, 1)
        grid = torch.cat([torch.cat(list(images), 2), torch.cat(list(rec), 2)], 1)  # (3, 2H, 6W)
        out_dir.mkdir(parents=True, exist_ok=True)
        sheet = ((grid + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
        Image.fromarray(sheet).save(out_dir / f"step{step:06d}.png")
        metrics = reconstruction_metrics(model, self.validation())
        with (out_dir / "metrics.jsonl").open("a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        model.train()

    @torch.no_grad()
    def export(self, model, out_dir: Path) -> None:
        """Weights + config with the latents' statistics as shift/scaling factors, and the held-out metrics."""
        model.eval()
        z = model.encode(self.validation().to(model.dtype)).latent_dist.mode().float()
        model.register_to_config(shift_factor=float(z.mean()), scaling_factor=float(1.0 / z.std()))
        model.save_pretrained(out_dir)
        metrics = reconstruction_metrics(model, self.validation())
        (Path(out_dir) / "metrics.json").write_text(json.dumps({**metrics, "images": len(self.validation()),
                                                                "size": self.args.size}, indent=1))


def autoencoder_task(cfg: TrainConfig) -> AutoencoderTask:
    return AutoencoderTask(cfg)
