"""DreamBooth-style LoRA personalization for Layout-and-Retouch (the personalized model ε'_θ): a rare token
("sks") bound to a subject by ε-prediction training of LoRA adapters on the UNet attention projections, on a few
reference images. Registered as the training task `retouch_dreambooth`; the export is a diffusers LoRA file that
`LayoutRetouchPipeline.load_lora_weights` (or any SD pipeline) loads. Prior preservation is not included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import BaseModel, ConfigDict

from ...pipelines.lcp.sd_common import encode_images, encode_prompts, to_tensor
from ..config import TrainConfig
from ..task import step_seed

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class DreamBoothArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pretrained: Path | None = None  # local SD1.5-style diffusers directory
    instance_images: Path | None = None  # directory of reference images of the subject
    instance_prompt: str = "a photo of sks person"
    size: int = 512
    lora_rank: int = 8
    target_modules: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")


@dataclass
class DreamBoothBatch:
    latents: torch.Tensor  # (B, C, h, w) scaled clean latents
    text: torch.Tensor  # (B, T, D) instance prompt states


class RetouchDreamBoothTask:
    def __init__(self, components: dict[str, Any], images: list[Image.Image], args: DreamBoothArgs, seed: int = 0):
        from peft import LoraConfig

        if not images:
            raise ValueError("DreamBooth needs at least one instance image")
        self.args, self.seed = args, seed
        self.vae, self.tokenizer, self.text_encoder = components["vae"], components["tokenizer"], \
            components["text_encoder"]
        self.scheduler = components["scheduler"]
        self.model = components["unet"]
        self.model.requires_grad_(False)
        self.model.add_adapter(LoraConfig(r=args.lora_rank, lora_alpha=args.lora_rank,
                                          target_modules=list(args.target_modules), init_lora_weights="gaussian"))
        dev = self.model.device
        self._latents = encode_images(self.vae, to_tensor(images, (args.size, args.size))).to(dev)  # (n, C, h, w)
        self._text = encode_prompts(self.tokenizer, self.text_encoder, [args.instance_prompt], dev)  # (1, T, D)

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> RetouchDreamBoothTask:
        from diffusers import StableDiffusionPipeline

        args = DreamBoothArgs(**cfg.task_args)
        if args.pretrained is None or args.instance_images is None:
            raise ValueError("retouch_dreambooth needs task_args.pretrained and task_args.instance_images")
        pipe = StableDiffusionPipeline.from_pretrained(args.pretrained, safety_checker=None, local_files_only=True)
        files = sorted(p for p in Path(args.instance_images).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        comps = {k: getattr(pipe, k) for k in ("vae", "tokenizer", "text_encoder", "scheduler", "unet")}
        return cls(comps, [Image.open(p).convert("RGB") for p in files], args, cfg.seed)

    def trainable_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def setup(self, accelerator) -> None:
        """Called by the trainer before `accelerator.prepare`: the precomputed instance latents and prompt states on
        the accelerator's device (the VAE and text encoder are not used again and stay where they are)."""
        self._latents, self._text = self._latents.to(accelerator.device), self._text.to(accelerator.device)

    def batch(self, index: int, rank: int, batch_size: int) -> DreamBoothBatch:
        g = torch.Generator().manual_seed(step_seed(self.seed, index, rank))
        pick = torch.randint(0, self._latents.shape[0], (batch_size,), generator=g)
        return DreamBoothBatch(self._latents[pick], self._text.expand(batch_size, -1, -1))

    def loss(self, model: torch.nn.Module, batch: DreamBoothBatch, generator: torch.Generator):
        """ε-prediction MSE (LCP / L&R eq. 1) at uniformly drawn timesteps."""
        x0 = batch.latents
        noise = torch.randn(x0.shape, generator=generator, device=generator.device).to(x0)
        t = torch.randint(0, self.scheduler.config.num_train_timesteps, (x0.shape[0],), generator=generator,
                          device=generator.device).to(x0.device)
        xt = self.scheduler.add_noise(x0, noise, t)
        pred = model(xt, t, encoder_hidden_states=batch.text).sample
        loss = F.mse_loss(pred.float(), noise.float())
        return loss, {"mse": loss.item()}

    def sample(self, model: torch.nn.Module, step: int, out_dir: Path) -> None:
        return None  # sampling needs the retouch pipeline; see docs/lcp_retouch

    def export(self, model: torch.nn.Module, out_dir: Path) -> None:
        from diffusers.loaders import StableDiffusionLoraLoaderMixin
        from peft.utils import get_peft_model_state_dict

        unwrapped = getattr(model, "module", model)
        StableDiffusionLoraLoaderMixin.save_lora_weights(
            out_dir, unet_lora_layers=get_peft_model_state_dict(unwrapped),
            unet_lora_adapter_metadata=unwrapped.peft_config["default"].to_dict())


def retouch_dreambooth(cfg: TrainConfig) -> RetouchDreamBoothTask:
    return RetouchDreamBoothTask.from_config(cfg)
