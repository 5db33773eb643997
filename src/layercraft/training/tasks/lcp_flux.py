"""Training task `lcp_flux_adapter`: the LCP adapter (DA-Encoder resampler, static refiner projections, layout-aware
module, static / grounding / dynamic attention) on a frozen `LayercraftFluxTransformer`, by flow matching.

DA-Encoder pairs come from the world's multi-image scenes (standing in for video frames): the target is frame a of
a scene, each person's reference is the same identity's layer in another frame b, with colour and geometric
augmentation; boxes and the prompt are frame a's. Switches `augment`, `static`, `grounding`, `dynamic` give the
Table III ablation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance
from pydantic import BaseModel, ConfigDict

from ...canvas.types import Category
from ...conditioning import noisy_ids
from ...models.flux_ext.adapter import LcpFluxAdapter
from ...pipelines.lcp.flux_common import image_latents
from ...pipelines.lcp.flux_state import subject_state
from ...pipelines.lcp.subjects import Subject
from ...world.layout import image_spec
from ...world.layout import scene as world_scene
from ...world.scene import render
from ...world.splits import scene_split
from ..config import FlowConfig, TrainConfig
from ..flow_matching import noisy_and_target, sample_sigmas
from ..task import step_seed

GATES = ("gate", "mu")  # parameter names of the adapter's zero-initialised scalar gates


class LcpFluxArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = "embedded-small"  # registry spec (random init), or "default" (the trained embedded default)
    pretrained: Path | None = None  # a LayeredCanvasPipeline directory (the trained embedded model)
    image_encoder: Path | None = None  # local CLIP vision directory for the DA-Encoder; None: no dynamic attention
    size: int = 128  # training resolution (square)
    frames: int = 4  # images per scene used as frames
    max_people: int = 3
    augment: bool = True
    static: bool = True
    grounding: bool = True
    dynamic: bool = True
    adapter: dict[str, Any] = {}  # LcpFluxAdapter config overrides
    gate_lr_scale: float = 1.0  # learning-rate factor for the zero-initialised gates (tanh γ, static μ): with Adam
    # each step moves a parameter by about lr, so at adapter lr a scalar gate opens by < 0.1 in a short run


def augment(img: Image.Image, mask: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, np.ndarray]:
    """Colour (brightness, contrast, saturation) and geometric (flip, scale-crop) augmentation of a reference."""
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.6, 1.4))
    m = Image.fromarray(mask.astype(np.uint8) * 255)
    if rng.random() < 0.5:
        img, m = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), m.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    w, h = img.size
    s = rng.uniform(0.8, 1.0)
    cw, ch = max(1, round(w * s)), max(1, round(h * s))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    box = (x0, y0, x0 + cw, y0 + ch)
    img, m = img.crop(box).resize((w, h), Image.Resampling.BICUBIC), m.crop(box).resize((w, h))
    return img, np.asarray(m) >= 128


def _crop(layer: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    """A person's RGBA layer (H, W, 4) → its box crop on white (RGB) and alpha mask."""
    a = layer[..., 3] >= 128
    rows, cols = np.flatnonzero(a.any(1)), np.flatnonzero(a.any(0))
    if len(rows) == 0:
        rows, cols = np.arange(layer.shape[0]), np.arange(layer.shape[1])
    c = layer[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
    rgb = c[..., :3] * c[..., 3:] / 255 + 255 * (1 - c[..., 3:] / 255)
    return Image.fromarray(rgb.round().astype(np.uint8)), c[..., 3] >= 128


@dataclass
class LcpExample:
    image: Image.Image  # frame a (target)
    prompt: str
    subjects: list[Subject]  # boxes from frame a, references from frame b


def scene_pair(scene_id: int, a: int, b: int, size: int, max_people: int, rng: np.random.Generator | None,
               ) -> LcpExample:
    """Frame a of a world scene as target, the same identities' layers in frame b as (augmented) references."""
    sc = world_scene(scene_id, n_people=int(1 + scene_id % max_people))
    fa, fb = (render(image_spec(sc, k, size, size)) for k in (a, b))
    by_identity = {p["identity"]: i for i, p in enumerate(fb.meta["people"])}
    subjects = []
    for i, person in enumerate(fa.meta["people"]):
        x0, y0, x1, y1 = (float(v) / size for v in fa.person_boxes[i])
        if x1 <= x0 or y1 <= y0 or person["identity"] not in by_identity:
            continue
        img, mask = _crop(fb.layers[by_identity[person["identity"]]])
        if rng is not None:
            img, mask = augment(img, mask, rng)
        subjects.append(Subject(f"p{i}", (x0, y0, x1, y1), fa.layers[i][..., 3] >= 128, img, mask, img,
                                Category.person, person["description"]))
    return LcpExample(Image.fromarray(fa.rgb), fa.meta["prompt"], subjects)


class LcpFluxTask:
    def __init__(self, pipe: Any, args: LcpFluxArgs, seed: int = 0, image_encoder: Any = None,
                 flow: FlowConfig | None = None):
        self.pipe, self.args, self.seed, self.flow = pipe, args, seed, flow or FlowConfig()
        if image_encoder is not None:
            pipe.image_encoder = image_encoder
        pipe.transformer.requires_grad_(False)
        pipe.vae.requires_grad_(False)
        image_dim = pipe.image_encoder.config.hidden_size if getattr(pipe, "image_encoder", None) is not None else 1
        self.model = LcpFluxAdapter.for_transformer(pipe.transformer, image_dim=image_dim, **args.adapter)
        self.model.to(pipe._execution_device)
        self.size = args.size
        self._train_scenes = [s for s in range(4000) if scene_split(s) == "train"]

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> LcpFluxTask:
        from ...pipelines.lcp.pipeline_flux import LcpFluxPipeline

        args = LcpFluxArgs(**cfg.task_args)
        if args.pretrained is not None:
            pipe = LcpFluxPipeline.from_pretrained(args.pretrained)
        elif args.model == "default":
            from ...pipelines.loading import load_embedded

            base = load_embedded()
            pipe = LcpFluxPipeline(**base.components, max_sequence_length=base.config.max_sequence_length)
        else:
            pipe = LcpFluxPipeline.from_spec(args.model, seed=cfg.seed)
        pipe.set_progress_bar_config(disable=True)
        encoder = None
        if args.image_encoder is not None and args.dynamic:
            from transformers import CLIPVisionModel

            encoder = CLIPVisionModel.from_pretrained(args.image_encoder, local_files_only=True).eval()
            encoder.requires_grad_(False)
        return cls(pipe, args, cfg.seed, encoder, cfg.flow)

    def trainable_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def setup(self, accelerator) -> None:
        """Called by the trainer before `accelerator.prepare`: the frozen pipeline (with its image encoder) and the
        adapter on the accelerator's device."""
        self.pipe.to(accelerator.device)
        if getattr(self.pipe, "image_encoder", None) is not None:
            self.pipe.image_encoder.to(accelerator.device)
        self.model.to(accelerator.device)

    def param_groups(self, lr: float) -> list[dict]:
        """The scalar gates (grounding tanh γ, static μ) at `gate_lr_scale`·lr, everything else at lr."""
        gates = [p for n, p in self.model.named_parameters() if p.requires_grad and n.split(".")[-1] in GATES]
        ids = {id(p) for p in gates}
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in ids]
        return [{"params": rest}, {"params": gates, "lr": lr * self.args.gate_lr_scale, "weight_decay": 0.0}]

    def batch(self, index: int, rank: int, batch_size: int) -> list[LcpExample]:
        rng = np.random.default_rng(step_seed(self.seed, index, rank))
        out = []
        while len(out) < batch_size:
            sid = int(self._train_scenes[int(rng.integers(len(self._train_scenes)))])
            a, b = (int(k) for k in rng.choice(self.args.frames, 2, replace=False))
            ex = scene_pair(sid, a, b, self.size, self.args.max_people, rng if self.args.augment else None)
            if ex.subjects:
                out.append(ex)
        return out

    def loss(self, model: torch.nn.Module, batch: list[LcpExample], generator: torch.Generator):
        """Flow-matching MSE of the frozen transformer + adapter on frame a, per example."""
        pipe, args = self.pipe, self.args
        adapter = getattr(model, "module", model)
        size = (self.size, self.size)
        losses = []
        for ex in batch:
            x0 = image_latents(pipe, [ex.image], size)  # (1, L, C·4)
            n = x0.shape[1]
            state = subject_state(pipe, adapter, ex.subjects, size, n, use_static=args.static,
                                  use_grounding=args.grounding)
            if not args.dynamic:
                state.dynamic_tokens = None
            sigma = sample_sigmas(self.flow, 1, generator).to(x0.device)
            noise = torch.randn(x0.shape, generator=generator, device=generator.device).to(x0)
            xt, target = noisy_and_target(x0, sigma, noise)
            text, pooled = pipe.encode_text([ex.prompt])
            grid = (self.size // pipe.stride, self.size // pipe.stride)
            tr = pipe.transformer
            guidance = torch.full((1,), 3.5, device=x0.device) if tr.config.guidance_embeds else None
            v = tr(xt, text, pooled, sigma.to(xt.dtype), noisy_ids(grid).to(xt.device),
                   torch.zeros(text.shape[1], 3, device=xt.device), guidance,
                   adapter.attention_kwargs(tr, state)).sample
            losses.append(F.mse_loss(v.float(), target.float()))
        loss = torch.stack(losses).mean()
        return loss, {"mse": loss.item()}

    def sample(self, model: torch.nn.Module, step: int, out_dir: Path) -> None:
        return None  # sampling uses LcpFluxPipeline(lcp_adapter=...); see docs/lcp_retouch

    def export(self, model: torch.nn.Module, out_dir: Path) -> None:
        getattr(model, "module", model).save_pretrained(Path(out_dir) / "lcp_adapter")


def lcp_flux_adapter(cfg: TrainConfig) -> LcpFluxTask:
    return LcpFluxTask.from_config(cfg)
