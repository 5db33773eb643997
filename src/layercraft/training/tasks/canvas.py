"""The `canvas` stage: flow matching on the pipeline's own transformer, conditioned on world canvases.

One task covers base text-to-image pretraining (`p_drop_canvas=1`), canvas-conditioned training from
scratch, and finetuning (full, or peft LoRA with `lora_rank > 0`) from a saved pipeline. Each micro-batch
draws one recipe (so one scheme) by the configured weights; canvas and text dropout make classifier-free
guidance possible. Inputs are built by `denoise.build_inputs`, exactly as at inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from ...canvas import Canvas, composite
from ...conditioning import pack, unpack
from ...conditioning.schemes import ANYPHOTO, LAYERCOMPOSER
from ...denoise import Switches, velocity
from ...denoise.canvas_pixels import rgba_to_tensor
from ...models.autoencoder import from_latents, to_latents
from ..config import TrainConfig
from ..flow_matching import clean_estimate, noisy_and_target, sample_sigmas
from ..recipes import RECIPES, Example
from ..scenes import scene_source
from ..task import step_seed


class CanvasTaskArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = "embedded-small"  # registry name for a fresh model
    init_from: Path | None = None  # or a saved pipeline directory to continue from
    init_weights: Path | None = None  # or a transformer state dict (safetensors) over the fresh `model`
    recipes: dict[str, float] = {LAYERCOMPOSER.name: 1.0}
    size: int = 128
    p_drop_canvas: float = 0.1  # whole canvas dropped → text-to-image (and unconditional CFG branch)
    p_drop_text: float = 0.1
    lora_rank: int = 0  # > 0: train a peft LoRA on the attention projections instead of all weights
    sample_seed: int = 7
    sample_steps: int = 16
    milestones: tuple[int, ...] = (2000, 4000, 6000)  # AnyPhoto replacement curriculum: 0 → top at these steps
    replacement_top: float = 0.5  # its final probability; milestones () = this probability from step 0
    # the mechanisms trained (`denoise.Switches`: e.g. ccpa, dam, modulation — AnyPhoto identity-adaptive
    # modulation from world identity embeddings); None fields take each recipe's scheme default
    switches: Switches = Field(default_factory=Switches)
    p_drop_identity: float = 0.1  # identity-condition dropout (per canvas) when modulation is on
    identity_loss_weight: float = 0.0  # AnyPhoto eq. 24-25 on the one-step clean estimate
    identity_loss_max_sigma: float = 0.7  # above this noise level x̂₀ is too blurry to carry identity
    min_visible: float = 0.5  # people less visible than this are left out of identity terms
    t2i_people: int | None = Field(None, ge=1)  # `text_to_image` recipe: only scenes of this many people (None: any)
    # where the recipes' scenes come from (training/scenes.py): None / "world" (the procedural world), a dataset
    # folder made by `layercraft data prepare`, or a weighted mix [{source: world | FOLDER, weight: w}, …]
    data: str | list[dict | str] | None = None


@dataclass
class CanvasBatch:
    examples: list[Example]
    scheme: str
    drop_canvas: list[bool] = field(default_factory=list)
    drop_text: list[bool] = field(default_factory=list)


class CanvasFlowTask:
    """Flow matching on the pipeline's transformer, conditioned on world canvases (see the module docstring)."""

    def __init__(self, cfg: TrainConfig):
        from ...pipelines.layered_canvas import LayeredCanvasPipeline

        self.cfg = cfg
        self.args = CanvasTaskArgs(**cfg.task_args)
        unknown = set(self.args.recipes) - set(RECIPES)
        if unknown:
            raise ValueError(f"unknown recipes {sorted(unknown)}; choose from {sorted(RECIPES)}")
        if self.args.init_from is not None:
            self.pipe = LayeredCanvasPipeline.from_pretrained(self.args.init_from)
        else:
            self.pipe = LayeredCanvasPipeline.from_spec(self.args.model, seed=cfg.seed)
        if self.args.init_weights is not None:
            from safetensors.torch import load_file

            state = load_file(str(self.args.init_weights))
            self.pipe.transformer.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        self.pipe.set_progress_bar_config(disable=True)
        for name in ("text_encoder", "text_encoder_2", "vae"):
            module = getattr(self.pipe, name, None)
            if module is not None:
                module.requires_grad_(False).eval()
        self.model = self.pipe.transformer
        if self.args.lora_rank > 0:
            from peft import LoraConfig

            self.model.requires_grad_(False)
            self.model.add_adapter(LoraConfig(r=self.args.lora_rank, lora_alpha=self.args.lora_rank,
                                              init_lora_weights="gaussian",
                                              target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
        self._encoder = None
        self._scenes = scene_source(self.args.data)
        names, weights = zip(*sorted(self.args.recipes.items()), strict=True)
        self._recipe_names, self._recipe_p = list(names), np.asarray(weights, float) / sum(weights)

    def trainable_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def batch(self, index: int, rank: int, batch_size: int) -> CanvasBatch:
        rng = np.random.default_rng(step_seed(self.cfg.seed, index, rank, 0xCA))
        name = self._recipe_names[int(rng.choice(len(self._recipe_names), p=self._recipe_p))]
        kw = self._recipe_kwargs(name, index // max(1, self.cfg.grad_accum))
        examples = [RECIPES[name](rng, self.args.size, **kw) for _ in range(batch_size)]
        return CanvasBatch(examples, examples[0].scheme,
                           [bool(rng.random() < self.args.p_drop_canvas) for _ in examples],
                           [bool(rng.random() < self.args.p_drop_text) for _ in examples])

    def _recipe_kwargs(self, name: str, step: int) -> dict:
        kw = {"scenes": self._scenes}
        if name == ANYPHOTO.name:
            kw.update(step=step, milestones=self.args.milestones, top=self.args.replacement_top)
        if name == "text_to_image":
            kw.update(n_people=self.args.t2i_people)
        return kw

    def _targets(self, examples: list[Example]) -> torch.Tensor:
        images = torch.stack([rgba_to_tensor(np.dstack([e.target, np.full(e.target.shape[:2], 255, np.uint8)]))
                              for e in examples])  # (B, 3, H, W) in [-1, 1]
        latents = to_latents(self.pipe.vae, images)  # (B, C, h, w)
        return torch.stack([pack(z.float()) for z in latents])  # (B, L, C·4)

    def identity_encoder(self):
        """The world's ArcFace (frozen, eval mode), loaded on first use."""
        if self._encoder is None:
            from ...world.perception.identity import IdentityEncoder

            self._encoder = IdentityEncoder.from_pretrained().eval().requires_grad_(False)
        return self._encoder

    def _people(self, examples: list[Example]) -> list[tuple[int, int]]:
        """(sample, person) pairs visible enough for identity terms."""
        return [(b, i) for b, e in enumerate(examples) for i in range(len(e.person_boxes))
                if e.visible[i] >= self.args.min_visible]

    def _crops(self, images: torch.Tensor, examples: list[Example], people: list[tuple[int, int]]) -> torch.Tensor:
        """images (B, 3, H, W) in [0, 1] → person crops (N, 3, 64, 48), differentiable."""
        from ...world.perception.crops import crop

        return torch.stack([crop(images[b], examples[b].person_boxes[i]) for b, i in people])

    def loss(self, model, batch: CanvasBatch, generator: torch.Generator):
        ex = batch.examples
        canvases = [Canvas(width=e.canvas.width, height=e.canvas.height) if drop else e.canvas
                    for e, drop in zip(ex, batch.drop_canvas, strict=True)]
        prompts = ["" if drop else e.prompt for e, drop in zip(ex, batch.drop_text, strict=True)]
        x0 = self._targets(ex)
        people = self._people(ex) if (self.args.switches.modulation or self.args.identity_loss_weight > 0) else []
        gt_embeds = None
        if people:
            truth = torch.stack([torch.from_numpy(e.target).permute(2, 0, 1).float() / 255 for e in ex])
            with torch.no_grad():
                gt_embeds = self.identity_encoder()(self._crops(truth, ex, people))  # (N, D)
        plain = self.args.switches.replace(modulation=False)
        switches, identity = plain, None
        if self.args.switches.modulation:
            switches = self.args.switches
            identity = [{} for _ in ex]
            for (b, i), emb in zip(people, gt_embeds, strict=True):
                if not batch.drop_canvas[b] and any(lay.id == f"p{i}" for lay in ex[b].canvas.layers):
                    identity[b][f"p{i}"] = emb
            keep = torch.rand(len(ex), generator=generator) >= self.args.p_drop_identity
            identity = [d if k else {} for d, k in zip(identity, keep.tolist(), strict=True)]
            if not any(identity):
                switches, identity = plain, None
        inputs = self.pipe.build_inputs(prompts, canvases, batch.scheme, switches, identity_embeds=identity)
        sigmas = sample_sigmas(self.cfg.flow, len(ex), generator)
        noise = torch.randn(x0.shape, generator=generator)
        xt, target = noisy_and_target(x0, sigmas, noise)
        pred = velocity(model, inputs, xt, sigmas, inputs.conditioning())  # model: the (DDP-wrapped) module trained
        loss = F.mse_loss(pred.float(), target.float())
        logs = {"cond_tokens": float(inputs.cond_tokens.shape[1])}
        if self.args.identity_loss_weight > 0 and people:
            sel = [k for k, (b, _) in enumerate(people) if sigmas[b] <= self.args.identity_loss_max_sigma]
            if sel:
                grid = (self.args.size // self.pipe.stride,) * 2
                x0_hat = clean_estimate(xt, sigmas, pred.float())  # (B, L, C·4)
                images = from_latents(self.pipe.vae, torch.stack([unpack(z, grid) for z in x0_hat]))
                images = ((images.float() + 1) / 2).clamp(0, 1)  # (B, 3, H, W)
                e_pred = self.identity_encoder()(self._crops(images, ex, [people[k] for k in sel]))
                id_loss = (1 - (e_pred * gt_embeds[sel]).sum(-1)).mean()  # eq. 24: cosine distance
                loss = loss + self.args.identity_loss_weight * id_loss  # eq. 25
                logs["id_loss"] = float(id_loss.detach())
        return loss, logs

    def validation_examples(self, n: int = 4) -> list[Example]:
        """Fixed examples for sample sheets (training-split scenes, so this is a progress view, not a score)."""
        rng = np.random.default_rng(self.args.sample_seed)
        names = [self._recipe_names[k % len(self._recipe_names)] for k in range(n)]
        return [RECIPES[name](rng, self.args.size, **self._recipe_kwargs(name, 0)) for name in names]

    @torch.no_grad()
    def sample(self, model, step: int, out_dir: Path) -> None:
        rows = []
        text_only = self.args.p_drop_canvas >= 1.0  # a text-to-image stage: sample the path it trains
        for k, e in enumerate(self.validation_examples()):
            canvas = Canvas(width=e.canvas.width, height=e.canvas.height) if text_only else e.canvas
            img = self.pipe(prompt=e.prompt, canvas=canvas, scheme=e.scheme,
                            num_inference_steps=self.args.sample_steps,
                            generator=torch.Generator().manual_seed(k)).images[0]
            rows.append(np.concatenate([np.asarray(composite(canvas)), np.asarray(img.convert("RGB")), e.target], 1))
        out_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.concatenate(rows, 0)).save(out_dir / f"step{step:06d}.png")

    def model_card(self) -> str:
        a, c = self.args, self.cfg
        base = str(a.init_from) if a.init_from is not None else f"layercraft registry model `{a.model}`"
        return (f"---\nlibrary_name: diffusers\ntags: [layercraft, lora, layered-canvas]\n---\n\n"
                f"# layercraft canvas LoRA\n\nA peft LoRA (rank {a.lora_rank}) on the attention projections of "
                f"{base}, trained by `layercraft train` (task `canvas`) for {c.max_steps} steps, batch "
                f"{c.batch_size} × {c.grad_accum}, lr {c.lr}, on recipes {dict(a.recipes)} from "
                f"{'the studio world' if a.data in (None, 'world') else a.data} at "
                f"{a.size}×{a.size} px.\n\n```python\nfrom layercraft.pipelines import load_pipeline\n"
                f"pipe = load_pipeline({str(a.init_from or a.model)!r})\npipe.load_lora_weights(\"<this folder>\")\n"
                f"```\n")

    def export(self, model, out_dir: Path) -> None:
        if self.args.lora_rank > 0:
            from peft.utils import get_peft_model_state_dict

            self.pipe.save_lora_weights(out_dir, transformer_lora_layers=get_peft_model_state_dict(model))
            (Path(out_dir) / "README.md").write_text(self.model_card())
        else:
            self.pipe.save_pretrained(out_dir)


def canvas_task(cfg: TrainConfig) -> CanvasFlowTask:
    return CanvasFlowTask(cfg)
