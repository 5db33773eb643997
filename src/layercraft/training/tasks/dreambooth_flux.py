"""DreamBooth-style LoRA personalization on the Flux family (the personalized model v'_θ of Layout-and-Retouch on
the embedded model): a rare token ("sks") bound to one subject by flow-matching training of a peft LoRA on every
attention projection, on a few instance images, on the text-only path (no canvas tokens) — the path
`LayoutRetouchFluxPipeline.step_blended` samples. Training task `flux_dreambooth`; the export is a diffusers LoRA
file (`pytorch_lora_weights.safetensors`) that `load_lora_weights` reads, plus a model card.

Instance images come from a folder, or from the studio world (`world_scene`): the subject's full layer from
several images of one single-person scene, pasted centred on that image's clean plate — portrait-style reference
photos, as DreamBooth subjects usually are. Their prompts are the world captions with "person" → "sks person".
Prior preservation is not included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import BaseModel, ConfigDict

from ...canvas import Canvas
from ...conditioning import DEFAULT_SCHEME
from ...denoise import Switches, velocity
from ...pipelines.lcp.flux_common import image_latents
from ...pipelines.lora import add_attention_lora, save_attention_lora
from ..config import TrainConfig
from ..flow_matching import noisy_and_target, sample_sigmas
from ..task import step_seed
from .dreambooth_unet import IMAGE_SUFFIXES


class FluxDreamBoothArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = "default"  # "default", a registry name, or a saved pipeline folder
    instance_images: Path | None = None  # a folder of subject images (prompts: `instance_prompt`)
    world_scene: int | None = None  # or a single-person world scene (a held-out one is fine: a user subject)
    num_instance: int = 4
    instance_prompt: str = "one sks person"
    token: str = "sks"
    size: int = 128
    lora_rank: int = 8


def instance_prompt(caption: str, token: str = "sks") -> str:
    """A world caption → the same caption with the rare token before the class word ("one sks person …")."""
    out, n = re.subn(r"\bperson\b", f"{token} person", caption, count=1)
    if not n:
        raise ValueError(f"caption {caption!r} has no class word 'person'")
    return out


def centred_portrait(layer: np.ndarray, plate: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    """A subject's full RGBA layer (H, W, 4) shifted so its columns centre on the image, over the clean plate
    (H, W, 3) → (RGB image, shifted alpha (H, W) uint8)."""
    layer = layer.astype(np.float32)
    w = layer.shape[1]
    cols = np.flatnonzero((layer[..., 3] >= 128).any(0))
    shift = w // 2 - (int(cols[0]) + int(cols[-1]) + 1) // 2 if len(cols) else 0
    layer = np.roll(layer, shift, axis=1)
    if shift > 0:
        layer[:, :shift, 3] = 0  # what wrapped around from the right edge
    elif shift < 0:
        layer[:, shift:, 3] = 0
    alpha = layer[..., 3:] / 255
    rgb = layer[..., :3] * alpha + plate.astype(np.float32) * (1 - alpha)
    return Image.fromarray(rgb.round().astype(np.uint8)), layer[..., 3].astype(np.uint8)


def world_instances(scene_id: int, n: int, size: int, token: str = "sks") -> list[tuple[Image.Image, str]]:
    """n portrait-style images of the one person of world scene `scene_id`, with their instance prompts."""
    from ...world.layout import image_spec, scene
    from ...world.prompts import canvas_prompt
    from ...world.scene import render

    sc = scene(scene_id, n_people=1)
    out = []
    for k in range(n):
        s = render(image_spec(sc, k, size, size))
        image, _ = centred_portrait(s.layers[0], s.plate)
        out.append((image, instance_prompt(canvas_prompt(s.meta, np.random.default_rng(k)), token)))
    return out


@dataclass
class DreamBoothFluxBatch:
    latents: torch.Tensor  # (B, L, C·4) packed clean latents
    prompts: list[str]


class FluxDreamBoothTask:
    def __init__(self, pipe, instances: list[tuple[Image.Image, str]], args: FluxDreamBoothArgs, seed: int = 0,
                 flow=None):
        from ..config import FlowConfig

        if not instances:
            raise ValueError("DreamBooth needs at least one instance image")
        self.pipe, self.args, self.seed, self.flow = pipe, args, seed, flow or FlowConfig()
        pipe.set_progress_bar_config(disable=True)
        for name in ("text_encoder", "text_encoder_2", "vae"):
            module = getattr(pipe, name, None)
            if module is not None:
                module.requires_grad_(False).eval()
        self.model = pipe.transformer
        self.model.requires_grad_(False)
        add_attention_lora(self.model, rank=args.lora_rank, init_lora_weights="gaussian")
        with torch.no_grad():
            size = (args.size, args.size)
            self._latents = image_latents(pipe, [im.convert("RGB") for im, _ in instances], size).float()  # (n, L, C·4)
        self._prompts = [p for _, p in instances]

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> FluxDreamBoothTask:
        from ...pipelines.loading import load_pipeline

        args = FluxDreamBoothArgs(**cfg.task_args)
        if (args.instance_images is None) == (args.world_scene is None):
            raise ValueError("flux_dreambooth needs exactly one of task_args.instance_images or task_args.world_scene")
        if args.world_scene is not None:
            instances = world_instances(args.world_scene, args.num_instance, args.size, args.token)
        else:
            folder = Path(args.instance_images)
            if not folder.is_dir():
                raise FileNotFoundError(f"instance_images {folder} is not a folder")
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            instances = [(Image.open(p).convert("RGB"), args.instance_prompt) for p in files]
        return cls(load_pipeline(args.model, seed=cfg.seed), instances, args, cfg.seed, cfg.flow)

    def trainable_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def setup(self, accelerator) -> None:
        """Called by the trainer before `accelerator.prepare`: the whole pipeline and the instance latents on the
        accelerator's device (trained weights and everything else stay in their dtype)."""
        self.pipe.to(accelerator.device)
        self._latents = self._latents.to(accelerator.device)

    def batch(self, index: int, rank: int, batch_size: int) -> DreamBoothFluxBatch:
        g = torch.Generator().manual_seed(step_seed(self.seed, index, rank))
        pick = torch.randint(0, self._latents.shape[0], (batch_size,), generator=g).tolist()
        return DreamBoothFluxBatch(self._latents[pick], [self._prompts[k] for k in pick])

    def loss(self, model, batch: DreamBoothFluxBatch, generator: torch.Generator):
        """Rectified-flow MSE on the text-only path (empty canvas)."""
        size = self.args.size
        canvases = [Canvas(width=size, height=size, prompt=p) for p in batch.prompts]
        inputs = self.pipe.build_inputs(batch.prompts, canvases, DEFAULT_SCHEME, Switches())
        x0 = batch.latents
        sigmas = sample_sigmas(self.flow, x0.shape[0], generator).to(x0.device)  # drawn on the CPU generator
        xt, target = noisy_and_target(x0, sigmas, torch.randn(x0.shape, generator=generator).to(x0.device))
        loss = F.mse_loss(velocity(model, inputs, xt, sigmas, inputs.conditioning()).float(), target.float())
        return loss, {"mse": loss.item()}

    def sample(self, model, step: int, out_dir: Path) -> None:
        return None  # sampling is the retouch pipeline's (`python -m experiments.blend_sweep sweep`)

    def export(self, model, out_dir: Path) -> None:
        save_attention_lora(self.pipe, out_dir)
        a = self.args
        source = f"world scene {a.world_scene}" if a.world_scene is not None else str(a.instance_images)
        (Path(out_dir) / "README.md").write_text(
            f"---\nlibrary_name: diffusers\ntags: [layercraft, lora, dreambooth]\n---\n\n# layercraft DreamBooth "
            f"LoRA\n\nRank-{a.lora_rank} LoRA on every attention projection of `{a.model}`, binding the token "
            f"`{a.token}` to the subject of {source} ({len(self._prompts)} instance images, {a.size} px), trained by "
            f"`layercraft train` (task `flux_dreambooth`).\n\n```python\nfrom layercraft.pipelines.retouch import "
            f"LayoutRetouchFluxPipeline\n# load the base, then: pipe.load_lora_weights(\"<this folder>\")\n```\n")


def flux_dreambooth(cfg: TrainConfig) -> FluxDreamBoothTask:
    return FluxDreamBoothTask.from_config(cfg)
