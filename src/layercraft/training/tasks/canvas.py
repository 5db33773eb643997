"""The `canvas` stage: flow matching on the pipeline's own transformer, conditioned on world canvases.

One task covers base text-to-image pretraining (`p_drop_canvas=1`), canvas-conditioned training from
scratch, and finetuning (full, or peft LoRA with `lora_rank > 0`) from a saved pipeline. Each micro-batch
draws one recipe (so one scheme) by the configured weights; canvas and text dropout make classifier-free
guidance possible. Inputs are built by `denoise.build_inputs`, exactly as at inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...canvas import Canvas, composite
from ...conditioning import pack, unpack
from ...conditioning.schemes import ANYPHOTO, LAYERCOMPOSER, ONE_FOR_ALL
from ...denoise import Switches, build_inputs, velocity
from ...denoise.canvas_pixels import rgba_to_tensor
from ...devices import cpu_has_native_bf16
from ...models.autoencoder import from_latents, to_latents
from ..config import TrainConfig
from ..encoding_cache import EncodingCache
from ..flow_matching import clean_estimate, noisy_and_target, sample_sigmas
from ..recipes import RECIPES, Example
from ..scenes import DatasetScenes, PinnedScenes, scene_source, stream_spec
from ..task import step_seed

ANY_TARGET = (LAYERCOMPOSER.name, ANYPHOTO.name)  # recipes whose target can be any photo of a dataset


class CanvasTaskArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = "embedded-small"  # registry name for a fresh model
    init_from: Path | None = None  # or a saved pipeline directory to continue from
    init_weights: Path | None = None  # or a transformer state dict (safetensors) over the fresh `model`
    # take from init_weights only the tensors whose shape fits (a warm start across latent spaces: the blocks, not
    # the input and output projections); the keys left fresh are printed
    init_weights_partial: bool = False
    recipes: dict[str, float] = {LAYERCOMPOSER.name: 1.0}
    size: int = 128
    p_drop_canvas: float = 0.1  # whole canvas dropped → text-to-image (and unconditional CFG branch)
    p_drop_text: float = 0.1
    lora_rank: int = 0  # > 0: train a peft LoRA on the attention projections instead of all weights
    lora_alpha: float | None = None  # LoRA scale numerator (None: = lora_rank); saved with the adapter
    # dtype of the frozen components (text encoders, VAE, a LoRA's base transformer): "auto" is the mixed-precision
    # dtype on an accelerator, and on a CPU bf16 under bf16 mixed precision only where the CPU computes bf16 natively
    # (float32 otherwise: emulated bf16 is several times slower); trained weights stay float32 either way
    frozen_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    # a finite training set: each recipe draws from `dataset_size` fixed examples (None: a fresh example every draw)
    dataset_size: int | None = Field(None, ge=1)
    # precompute the set's text embeddings and VAE latents once (needs dataset_size), then keep the text encoders
    # (and the VAE, unless the identity loss decodes) on the CPU; the file is reused by later and resumed runs
    cache_encodings: bool = False
    cache_dir: Path | None = None  # where the encoding cache lives (None: <output_dir>/encodings)
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
    # folder made by `layercraft data prepare`, or a weighted mix [{source: world | FOLDER, weight: w}, …]; or
    # {dataset: FOLDER, streaming: true, workers: N}: each photo of the training split is the target of one
    # example per epoch, its shards split over processes and N DataLoader workers (training/stream.py)
    data: str | dict | list[dict | str] | None = None

    @model_validator(mode="after")
    def _finite_set_for_cache(self):
        if self.cache_encodings and self.dataset_size is None:
            raise ValueError("cache_encodings needs a finite training set: set dataset_size")
        if stream_spec(self.data) is not None:
            if self.dataset_size is not None:
                raise ValueError("data.streaming reads every photo once per epoch: it takes no dataset_size")
            if not any(r in self.recipes for r in ANY_TARGET) and not ("text_to_image" in self.recipes
                                                                      and self.t2i_people is None):
                raise ValueError("data.streaming makes each photo a target: the recipes need one that takes any "
                                 "photo (layercomposer, anyphoto, or text_to_image without t2i_people)")
        if self.dataset_size is not None and ANYPHOTO.name in self.recipes and self.milestones:
            raise ValueError("dataset_size fixes every example, but the anyphoto curriculum changes them with the "
                             "step: give milestones: [] (a fixed replacement probability)")
        return self


@dataclass
class CanvasBatch:
    examples: list[Example]
    scheme: str
    drop_canvas: list[bool] = field(default_factory=list)
    drop_text: list[bool] = field(default_factory=list)


class CanvasFlowTask:
    """Flow matching on the pipeline's transformer, conditioned on world canvases (see the module docstring)."""

    def __init__(self, cfg: TrainConfig, pipe=None):
        """`pipe`: a pipeline to train on instead of building one from `model` / `init_from` (a subclass's own)."""
        from ...pipelines.layered_canvas import LayeredCanvasPipeline

        self.cfg = cfg
        self.args = CanvasTaskArgs(**cfg.task_args)
        unknown = set(self.args.recipes) - set(RECIPES)
        if unknown:
            raise ValueError(f"unknown recipes {sorted(unknown)}; choose from {sorted(RECIPES)}")
        if pipe is not None:
            self.pipe = pipe
        elif self.args.init_from is not None:
            self.pipe = LayeredCanvasPipeline.from_pretrained(self.args.init_from)
        else:
            self.pipe = LayeredCanvasPipeline.from_spec(self.args.model, seed=cfg.seed)
        if self.args.init_weights is not None:
            from safetensors.torch import load_file

            state = {k: v.float() for k, v in load_file(str(self.args.init_weights)).items()}
            if self.args.init_weights_partial:
                own = self.pipe.transformer.state_dict()
                fresh = sorted(k for k in own if k not in state or state[k].shape != own[k].shape)
                state = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
                self.pipe.transformer.load_state_dict(state, strict=False)
                print(f"init_weights_partial: {len(state)} tensors loaded, left fresh: {', '.join(fresh) or 'none'}")
            else:
                self.pipe.transformer.load_state_dict(state, strict=True)
        self.pipe.set_progress_bar_config(disable=True)
        for name in ("text_encoder", "text_encoder_2", "vae"):
            module = getattr(self.pipe, name, None)
            if module is not None:
                module.requires_grad_(False).eval()
        self.model = self.pipe.transformer
        if self.args.lora_rank > 0:
            from peft import LoraConfig

            self.model.requires_grad_(False)
            alpha = self.args.lora_rank if self.args.lora_alpha is None else self.args.lora_alpha
            self.model.add_adapter(LoraConfig(r=self.args.lora_rank, lora_alpha=alpha, init_lora_weights="gaussian",
                                              target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
        else:
            for module in self.switched_off_modules():
                module.requires_grad_(False)
        self._encoder = None
        self.device, self._frozen = torch.device("cpu"), torch.float32
        self.cache: EncodingCache | None = None
        self._scenes = scene_source(self.args.data)
        names, weights = zip(*sorted(self.args.recipes.items()), strict=True)
        self._recipe_names, self._recipe_p = list(names), np.asarray(weights, float) / sum(weights)
        self._stream = stream_spec(self.args.data)
        self.streaming = self._stream is not None
        self.streams = max(1, self._stream["workers"]) if self.streaming else 1

    # ---- streaming (data: {dataset: DIR, streaming: true}; training/stream.py) ----------------------------------
    def stream_loader(self, rank: int, world_size: int, positions: list):
        """The DataLoader of rank `rank`'s streams, from their `positions` (one per stream)."""
        from ..stream import loader

        make = CanvasStream(self._stream["dataset"], self.args, self.cfg.seed, self.cfg.batch_size,
                            self.cfg.grad_accum, self._recipe_names, self._recipe_p)
        return loader(make, rank, world_size, positions, self._stream["workers"])

    def switched_off_modules(self) -> list[torch.nn.Module]:
        """The transformer's modules that the configured switches never call: the identity projector without
        `modulation`, the DAM temperature generators without `dam`. They are frozen, so they are neither optimised
        (no weight decay on weights that never see a gradient) nor all-reduced by DDP, which would otherwise stop at
        the first step waiting for their gradients."""
        sw, model = self.args.switches, self.model
        off: list[torch.nn.Module] = []
        if not sw.modulation and model.identity_projector is not None:
            off.append(model.identity_projector)
        if not sw.dam:
            off += [b.attn.temperature for b in (*model.transformer_blocks, *model.single_transformer_blocks)
                    if hasattr(b.attn, "temperature")]
        return off

    @property
    def find_unused_parameters(self) -> bool:
        """Whether some trained parameter may miss a step's graph. Only the identity projector can, and only when
        `modulation` is trained: a step whose identities were all dropped (or hidden) takes the plain path. Then DDP
        must look for unused parameters each step (one graph traversal); with the switches' modules frozen otherwise,
        every trained parameter is in every graph and the traversal is skipped."""
        return self.args.switches.modulation and self.args.lora_rank == 0 and self.model.identity_projector is not None

    def trainable_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    # ---- placement ---------------------------------------------------------------------------------------------
    def frozen_dtype(self, device: torch.device, mixed_precision: str) -> torch.dtype:
        """The dtype policy for frozen components: see `CanvasTaskArgs.frozen_dtype`."""
        if self.args.frozen_dtype != "auto":
            return getattr(torch, self.args.frozen_dtype)
        if torch.device(device).type == "cpu":
            return torch.bfloat16 if mixed_precision == "bf16" and cpu_has_native_bf16() else torch.float32
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed_precision, torch.float32)

    def components(self) -> dict[str, torch.nn.Module]:
        """Every module the loss runs: the pipeline's components and, once loaded, the identity encoder."""
        mods = {k: v for k, v in self.pipe.components.items() if isinstance(v, torch.nn.Module)}
        if self._encoder is not None:
            mods["identity_encoder"] = self._encoder
        return mods

    def place(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> None:
        """Move every component to `device`: frozen ones in `dtype`; the trained weights stay float32 (a LoRA's
        frozen base takes `dtype`, its adapter float32), as diffusers' training scripts keep them."""
        self.device, self._frozen = torch.device(device), dtype
        for name, module in self.components().items():
            if name != "transformer":
                module.to(device=self.device, dtype=dtype)
        if self.args.lora_rank > 0:
            self.model.to(device=self.device, dtype=dtype)
            for p in self.trainable_parameters():
                p.data = p.data.float()
        else:
            self.model.to(device=self.device)

    def setup(self, accelerator) -> None:
        """Called by the trainer before `accelerator.prepare`: every component on the accelerator's device, then
        (with `cache_encodings`) the training set's encodings computed once — by the main process, the others load
        its file — and the encoders moved off the accelerator."""
        from ..launch import sharded

        if sharded(accelerator) and self.args.lora_rank == 0:
            raise ValueError("sharded training (FSDP, ZeRO-3) of the canvas task is for LoRAs (lora_rank > 0); "
                             "train full weights with DDP or ZeRO-2")
        self.place(accelerator.device, self.frozen_dtype(accelerator.device, accelerator.mixed_precision))
        if self.args.cache_encodings:
            with accelerator.main_process_first():
                self.build_cache()
            self.offload_encoders()

    # ---- encodings ---------------------------------------------------------------------------------------------
    def encoders(self):
        """What `build_inputs` encodes through: the pipeline's encoders, or the cache in front of them."""
        enc = self.pipe.encoders()
        if self.cache is None:
            return replace(enc, device=self.device)
        return replace(enc, device=self.device,
                       encode_text=self.cache.text_encoder(self.pipe.encode_text, self.device, enc.dtype),
                       vae=self.cache.vae(self.pipe.vae))

    def cache_path(self) -> Path:
        """The cache file for this training set: keyed by everything that changes what is encoded."""
        import hashlib
        import json

        skip = {"lora_rank", "lora_alpha", "p_drop_canvas", "p_drop_text", "p_drop_identity", "sample_seed",
                "sample_steps", "identity_loss_weight", "identity_loss_max_sigma", "min_visible", "cache_dir",
                "cache_encodings"}
        key = {"seed": self.cfg.seed, **{k: v for k, v in self.args.model_dump(mode="json").items() if k not in skip},
               "dtype": str(self._frozen)}
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return Path(self.args.cache_dir or Path(self.cfg.output_dir) / "encodings") / f"{digest}.pt"

    @torch.no_grad()
    def build_cache(self, chunk: int = 8) -> EncodingCache:
        """Load this set's cache file, or encode every example's prompt, canvas layers and target once and save it.

        Each example is encoded as the loss encodes it (the same `build_inputs`, switches and target path), plus
        the empty prompt that text dropout gives."""
        path = self.cache_path()
        if path.exists():
            self.cache = EncodingCache.load(path)
        else:
            self.cache = EncodingCache({"examples": self.args.dataset_size, "recipes": self._recipe_names})
            plain = self.args.switches.replace(modulation=False)
            for name in self._recipe_names:
                for start in range(0, self.args.dataset_size, chunk):
                    ex = [self.example(name, k) for k in range(start, min(start + chunk, self.args.dataset_size))]
                    build_inputs(self.encoders(), [e.prompt for e in ex], [e.canvas for e in ex], ex[0].scheme, plain)
                    self._targets(ex)
            self.encoders().encode_text([""], None)
            self.cache.save(path)
        self.cache.frozen = True
        return self.cache

    def _encoder_modules(self) -> list[torch.nn.Module]:
        names = ["text_encoder", "text_encoder_2"] + ([] if self.args.identity_loss_weight > 0 else ["vae"])
        return [m for m in (getattr(self.pipe, n, None) for n in names) if isinstance(m, torch.nn.Module)]

    def offload_encoders(self, device: torch.device | str = "cpu") -> None:
        """Move the encoders the cache replaces (text, and the VAE unless the identity loss decodes) to `device`."""
        for module in self._encoder_modules():
            module.to(device)

    def batch(self, index: int, rank: int, batch_size: int) -> CanvasBatch:
        rng = np.random.default_rng(step_seed(self.cfg.seed, index, rank, 0xCA))
        name = self._recipe_names[int(rng.choice(len(self._recipe_names), p=self._recipe_p))]
        if self.args.dataset_size is not None:
            examples = [self.example(name, int(k)) for k in rng.integers(self.args.dataset_size, size=batch_size)]
        else:
            kw = self._recipe_kwargs(name, index // max(1, self.cfg.grad_accum))
            examples = [RECIPES[name](rng, self.args.size, **kw) for _ in range(batch_size)]
        return CanvasBatch(examples, examples[0].scheme,
                           [bool(rng.random() < self.args.p_drop_canvas) for _ in examples],
                           [bool(rng.random() < self.args.p_drop_text) for _ in examples])

    def example(self, name: str, k: int) -> Example:
        """Example k of a recipe's finite training set (`dataset_size`): a pure function of (seed, recipe, k)."""
        rng = np.random.default_rng(step_seed(self.cfg.seed, self._recipe_names.index(name), k, 0xDA7A))
        return RECIPES[name](rng, self.args.size, **self._recipe_kwargs(name, 0))

    def _recipe_kwargs(self, name: str, step: int) -> dict:
        return recipe_kwargs(self.args, name, step, self._scenes)

    def _targets(self, examples: list[Example]) -> torch.Tensor:
        images = torch.stack([rgba_to_tensor(np.dstack([e.target, np.full(e.target.shape[:2], 255, np.uint8)]))
                              for e in examples])  # (B, 3, H, W) in [-1, 1]
        vae = self.encoders().vae
        latents = to_latents(vae, images.to(vae.device))  # (B, C, h, w)
        return torch.stack([pack(z.float()) for z in latents]).to(self.device)  # (B, L, C·4)

    def identity_encoder(self):
        """The world's ArcFace (frozen, eval mode), loaded on first use."""
        if self._encoder is None:
            from ...world.perception.identity import IdentityEncoder

            self._encoder = IdentityEncoder.from_pretrained().eval().requires_grad_(False)
            self._encoder.to(self.device)
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
            truth = torch.stack([torch.from_numpy(e.target).permute(2, 0, 1).float() / 255 for e in ex]).to(self.device)
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
        inputs = build_inputs(self.encoders(), prompts, canvases, batch.scheme, switches, identity_embeds=identity)
        # noise is drawn on the CPU generator (the same on every device), then moved
        sigmas = sample_sigmas(self.cfg.flow, len(ex), generator).to(self.device)
        noise = torch.randn(x0.shape, generator=generator).to(self.device)
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
        if self.cache is not None:  # the pipeline encodes its own prompts and canvases: encoders back for the sheet
            self.offload_encoders(self.device)
            try:
                return self._sample(step, out_dir)
            finally:
                self.offload_encoders("cpu")
        return self._sample(step, out_dir)

    def _sample(self, step: int, out_dir: Path) -> None:
        rows = []
        text_only = self.args.p_drop_canvas >= 1.0  # a text-to-image stage: sample the path it trains
        for k, e in enumerate(self.validation_examples()):
            canvas = Canvas(width=e.canvas.width, height=e.canvas.height) if text_only else e.canvas
            img = self.pipe(prompt=e.prompt, canvas=canvas, scheme=e.scheme,
                            num_inference_steps=self.args.sample_steps, ref_grid=self.args.switches.ref_grid,
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

    def export(self, model, out_dir: Path, state_dict: dict | None = None) -> None:
        """The LoRA (diffusers format, with its config) or the whole pipeline. `state_dict`: the gathered weights of a
        sharded run (FSDP, ZeRO-3), whose module holds only this process's shards; LoRA runs only."""
        if self.args.lora_rank > 0:
            from peft.utils import get_peft_model_state_dict

            from ...pipelines.lora import adapter_metadata

            layers = get_peft_model_state_dict(model, state_dict=state_dict)
            self.pipe.save_lora_weights(out_dir, transformer_lora_layers=layers,
                                        transformer_lora_adapter_metadata=adapter_metadata(model))
            (Path(out_dir) / "README.md").write_text(self.model_card())
        elif state_dict is not None:
            raise ValueError("a sharded run exports LoRAs only (lora_rank > 0)")
        else:
            self.pipe.save_pretrained(out_dir)


def recipe_kwargs(args: CanvasTaskArgs, name: str, step: int, scenes) -> dict:
    kw = {"scenes": scenes}
    if name == ANYPHOTO.name:
        kw.update(step=step, milestones=args.milestones, top=args.replacement_top)
    if name == "text_to_image":
        kw.update(n_people=args.t2i_people)
    return kw


class CanvasStream:
    """The canvas task's streamed batches (picklable: DataLoader workers build their own dataset reader).

    Stream `stream` of rank `rank` reads its photos of each epoch (`PreparedDataset.stream_order`, the
    run's seed); each photo is the target of one example. A micro-batch's recipe is drawn by the configured
    weights among the recipes that can take every target of the batch (one_for_all needs a single-person
    photo whose identity has another; text_to_image with t2i_people that many people), and everything random
    in the batch comes from (seed, rank, stream, batch number): a stream's batches are a pure function of its
    position."""

    def __init__(self, folder: str, args: CanvasTaskArgs, seed: int, batch_size: int, grad_accum: int,
                 names: list[str], p: np.ndarray) -> None:
        self.folder, self.args, self.seed = folder, args, seed
        self.batch_size, self.grad_accum, self.names, self.p = batch_size, grad_accum, names, np.asarray(p, float)
        self._scenes: DatasetScenes | None = None

    def scenes(self) -> DatasetScenes:
        if self._scenes is None:
            self._scenes = DatasetScenes(self.folder)
        return self._scenes

    def targets(self, rank: int, world_size: int, stream: int, streams: int, epoch: int, consumed: int):
        """(image number, epoch, consumed after it) for ever, from `consumed` images into `epoch`."""
        ds = self.scenes().ds
        while True:
            order = ds.stream_order(seed=self.seed, epoch=epoch, rank=rank, world_size=world_size, worker=stream,
                                    num_workers=streams)
            if not order:
                raise ValueError(f"{self.folder}: {len(ds)} training photos for {world_size * streams} streams "
                                 "(processes × data.workers): every stream needs one at least")
            for k in range(consumed, len(order)):
                yield order[k], epoch, k + 1
            epoch, consumed = epoch + 1, 0

    def _n_people(self, name: str) -> int | None:
        return 1 if name == ONE_FOR_ALL.name else self.args.t2i_people if name == "text_to_image" else None

    def __call__(self, rank: int, world_size: int, stream: int, streams: int, position):
        epoch, consumed, batches = (int(v) for v in position)
        scenes = self.scenes()
        targets = self.targets(rank, world_size, stream, streams, epoch, consumed)
        while True:
            taken = [next(targets) for _ in range(self.batch_size)]
            epoch, consumed = taken[-1][1], taken[-1][2]
            rng = np.random.default_rng(step_seed(self.seed, 0x57EA, rank, stream, batches))
            ok = [k for k, name in enumerate(self.names)
                  if all(scenes.usable(n, self._n_people(name)) for n, _, _ in taken)]
            p = self.p[ok] / self.p[ok].sum()
            name = self.names[ok[int(rng.choice(len(ok), p=p))]]
            step = (batches * streams + stream) // max(1, self.grad_accum)  # this batch's optimizer step
            examples = [RECIPES[name](rng, self.args.size,
                                      **recipe_kwargs(self.args, name, step, PinnedScenes(scenes, n)))
                        for n, _, _ in taken]
            batch = CanvasBatch(examples, examples[0].scheme,
                                [bool(rng.random() < self.args.p_drop_canvas) for _ in examples],
                                [bool(rng.random() < self.args.p_drop_text) for _ in examples])
            batches += 1
            yield batch, (epoch, consumed, batches)


def canvas_task(cfg: TrainConfig) -> CanvasFlowTask:
    return CanvasFlowTask(cfg)
