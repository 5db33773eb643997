"""LayeredCanvasPipeline: text + layered canvas → images on the Flux / Kontext architecture.

Schemes (how layers become condition tokens; all appended after the noisy latents, Kontext-style):
- `layercomposer`: one segment per layer at canvas resolution, pruned by alpha, locked layers at
  index 0 (LayerComposer eq. 1-3);
- `anyphoto`: location-aligned identity tokens [1, x, y], identity-isolated attention, optional
  identity-adaptive modulation (AnyPhoto sec. 3.2-3.4);
- `one_for_all`: category references on their own position blocks (eq. 2), descriptors as text
  at the block centres (CCPA, eq. 3), optional DAM (eq. 4-5);
- `kontext_collage`: the composited canvas as one Kontext context image; zero-shot with stock
  FLUX.1 Kontext weights.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from diffusers.image_processor import VaeImageProcessor
from diffusers.loaders import FluxLoraLoaderMixin
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils import logging
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from ..canvas.limits import LIMITS
from ..canvas.types import Canvas, Category
from ..canvas.validate import validate_canvas
from ..conditioning import DEFAULT_SCHEME, get_scheme, pack, unpack
from ..denoise import (
    DenoiserInputs,
    Encoders,
    GuidedVelocity,
    Hook,
    Switches,
    build_inputs,
    denoise,
    flux_sigmas,
    guidance_branches,
)
from ..models.autoencoder import from_latents, latent_geometry
from ..models.registry import get_spec
from ..models.text import encode_flux, encode_single
from ..models.transformer import LayercraftFluxTransformer
from .checkpoints import (
    LOADING_KEYS,
    component_kwargs,
    is_own_save,
    normalise_dtype_keyword,
    read_model_index,
    resolve_folder,
    stock_model_index,
)
from .lock_anchor import LockAnchorHook, lock_anchor

logger = logging.get_logger(__name__)


class _CurrentTimestep(Hook):
    """Keeps `pipe.current_timestep` (t = 1000·σ, as diffusers) up to date during the loop."""

    def __init__(self, pipe: Any, sigmas: torch.Tensor):
        self.pipe, self.sigmas = pipe, sigmas

    def before_step(self, i: int, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.pipe._current_timestep = self.sigmas[i] * 1000
        return x


class StepCallback(Hook):
    """diffusers' `callback_on_step_end(pipe, i, t, {name: tensor})` as a loop hook; it may replace the latents."""

    def __init__(self, pipe: Any, callback: Callable, tensor_inputs: list[str], sigmas: torch.Tensor,
                 extra: dict[str, torch.Tensor] | None = None):
        self.pipe, self.callback, self.names = pipe, callback, list(tensor_inputs)
        self.sigmas, self.extra = sigmas, extra or {}

    def after_step(self, i: int, sigma_next: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        state = {"latents": x, **self.extra}
        out = self.callback(self.pipe, i, self.sigmas[i] * 1000, {k: state[k] for k in self.names})  # t as diffusers
        return out.pop("latents", x) if out else x


def default_scheduler() -> FlowMatchEulerDiscreteScheduler:
    """FLUX's sampling schedule: flow-matching Euler with resolution-dependent shift."""
    return FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_image_seq_len=256, max_image_seq_len=4096,
                                           base_shift=0.5, max_shift=1.15)


class LayeredCanvasPipeline(DiffusionPipeline, FluxLoraLoaderMixin):
    model_cpu_offload_seq = "text_encoder->text_encoder_2->transformer->vae"
    _optional_components = ["tokenizer_2", "text_encoder_2"]
    _callback_tensor_inputs = ["latents", "prompt_embeds"]

    def __init__(self, scheduler: FlowMatchEulerDiscreteScheduler, vae: Any, text_encoder: Any, tokenizer: Any,
                 transformer: LayercraftFluxTransformer, text_encoder_2: Any = None, tokenizer_2: Any = None,
                 max_sequence_length: int = 64):
        super().__init__()
        self.register_modules(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                              transformer=transformer, text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2)
        self.register_to_config(max_sequence_length=max_sequence_length)
        self.vae_factor, self.latent_channels = latent_geometry(vae)
        self.stride = self.vae_factor * 2  # pixels per packed token side
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.stride)
        self._guidance_scale, self._joint_attention_kwargs, self._num_timesteps = 3.5, None, 0
        self._current_timestep, self._interrupt = None, False

    def with_transformer(self, transformer: LayercraftFluxTransformer) -> LayeredCanvasPipeline:
        """A pipeline sharing this one's components and settings, with another transformer (a distilled student,
        a finetuned copy)."""
        return type(self)(**{**self.components, "transformer": transformer},
                          max_sequence_length=self.config.max_sequence_length)

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs: Any) -> LayeredCanvasPipeline:
        """Loads our own saves and stock FLUX / Kontext checkpoints alike — a local folder or a hub id in the local
        cache — and the transformer always comes up as LayercraftFluxTransformer (stock weights load unchanged).
        Takes diffusers' loading keywords: `dtype` or `torch_dtype` (one dtype, or {component: dtype, "default":
        dtype}), `device_map`, `quantization_config` (a PipelineQuantizationConfig or one for the transformer),
        `variant`, `low_cpu_mem_usage`, `local_files_only`."""
        kwargs = normalise_dtype_keyword(kwargs)
        folder = resolve_folder(path, kwargs)
        index = read_model_index(folder)
        if is_own_save(index):
            return cls._load_own_save(folder, index, **kwargs)
        if "transformer" not in kwargs and index.get("transformer", [None])[0] == "diffusers":
            kwargs["transformer"] = LayercraftFluxTransformer.from_pretrained(
                folder, subfolder="transformer", **component_kwargs("transformer", kwargs))
        if "max_sequence_length" not in kwargs:
            kwargs["max_sequence_length"] = index.get("max_sequence_length", 512)
        return super().from_pretrained(folder, **kwargs)

    @classmethod
    def _load_own_save(cls, path: Path, index: dict[str, Any], **kwargs: Any) -> LayeredCanvasPipeline:
        """A directory written by our save_pretrained: each component loaded by its recorded (module, class), with
        its share of the loading keywords (the transformer always as LayercraftFluxTransformer)."""
        loading = {k: kwargs.pop(k) for k in LOADING_KEYS if k in kwargs}
        accepted = set(inspect.signature(cls.__init__).parameters)
        components: dict[str, Any] = {}
        for name, entry in index.items():
            if name.startswith("_") or not isinstance(entry, list) or name in kwargs or name not in accepted:
                continue
            library, class_name = entry
            if library is None:
                components[name] = None
                continue
            if name == "transformer":
                klass = LayercraftFluxTransformer
            else:
                klass = getattr(importlib.import_module(library), class_name)
            extra = {}
            if isinstance(klass, type) and issubclass(klass, torch.nn.Module):
                extra = component_kwargs(name, loading, is_diffusers=library != "transformers")
            if class_name == "BertModel":  # MiniLM is saved without its pooler (we pool ourselves)
                extra["add_pooling_layer"] = False
            components[name] = klass.from_pretrained(path / name, **extra)
        max_len = kwargs.pop("max_sequence_length", index.get("max_sequence_length", 64))
        return cls(**components, **kwargs, max_sequence_length=max_len)

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> None:
        """diffusers' save, with model_index.json naming the transformer by its stock class (same weights, key for
        key) so that stock `DiffusionPipeline.from_pretrained` reads a save of stock-architecture components."""
        super().save_pretrained(save_directory, **kwargs)
        path = Path(save_directory) / "model_index.json"
        index = stock_model_index(json.loads(path.read_text()), type(self).__name__)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        tmp.replace(path)

    @classmethod
    def from_spec(cls, name: str, seed: int = 0) -> LayeredCanvasPipeline:
        """A pipeline with freshly initialised weights for a registry model (`tiny-test`, `embedded-small`)."""
        spec = get_spec(name)
        return cls(scheduler=default_scheduler(), max_sequence_length=spec.max_sequence_length,
                   **spec.components(seed))

    # ---- text -------------------------------------------------------------------------------------------
    def encode_text(self, prompts: list[str], max_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """prompts → token states (B, T, D_seq), pooled (B, D_pool) in the transformer dtype."""
        n = max_length or self.config.max_sequence_length
        dev = self._execution_device
        if self.text_encoder_2 is None:
            tokens, pooled = encode_single(self.tokenizer, self.text_encoder, prompts, n, dev)
        else:
            tokens, pooled = encode_flux(self.tokenizer, self.text_encoder, self.tokenizer_2, self.text_encoder_2,
                                         prompts, n, dev)
        dtype = self.transformer.dtype
        return tokens.to(dev, dtype), pooled.to(dev, dtype)

    def encoders(self) -> Encoders:
        """The encoders and transformer geometry `denoise.build_inputs` needs (the pipeline itself stays out)."""
        return Encoders(encode_text=self.encode_text, vae=self.vae, latent_channels=self.latent_channels,
                        stride=self.stride, device=self._execution_device, dtype=self.transformer.dtype,
                        text_dim=self.transformer.config.joint_attention_dim,
                        guidance_embeds=bool(self.transformer.config.guidance_embeds))

    def build_inputs(self, prompts: list[str], canvases: list[Canvas], scheme: str, switches: Switches,
                     negative: list[str] | None = None, identity_embeds: list[dict[str, torch.Tensor]] | None = None,
                     guidance_scale: float = 3.5, **embeds: Any) -> DenoiserInputs:
        """`denoise.build_inputs` with this pipeline's encoders (`embeds`: its text_embeds / negative_embeds /
        max_length keywords)."""
        return build_inputs(self.encoders(), prompts, canvases, scheme, switches, negative, identity_embeds,
                            guidance_scale, **embeds)

    def sampling_sigmas(self, num_inference_steps: int, n_noisy: int,
                        sigmas: list[float] | None = None) -> torch.Tensor:
        """FLUX's shifted σ grid (num_inference_steps + 1,), last = 0, through this pipeline's scheduler; `sigmas`
        (num_inference_steps values, descending) replaces the linear grid before the shift, as in diffusers."""
        return flux_sigmas(self.scheduler, num_inference_steps, n_noisy, self._execution_device, sigmas)

    def initial_noise(self, batch: int, grid: tuple[int, int], generator: Any = None) -> torch.Tensor:
        """Packed Gaussian noise (B, L, C·4) for a (h, w) token grid, drawn as Flux draws it (spatial, then packed)."""
        shape = (batch, self.latent_channels, grid[0] * 2, grid[1] * 2)
        noise = randn_tensor(shape, generator=generator, device=self._execution_device, dtype=self.transformer.dtype)
        return torch.stack([pack(x) for x in noise])

    def decode(self, latents: torch.Tensor, grid: tuple[int, int], output_type: str) -> Any:
        """Packed latents (B, L, C·4) → images (`output_type` 'latent' returns them as they are)."""
        if output_type == "latent":
            return latents
        spatial = torch.stack([unpack(x, grid) for x in latents])  # (B, C, 2h, 2w)
        return self.image_processor.postprocess(from_latents(self.vae, spatial).float(), output_type=output_type)

    def preview_image(self, callback_kwargs: dict) -> Image.Image | None:
        """A cheap look at the current latents (first sample) for live progress in the studio."""
        latents = callback_kwargs.get("latents")
        if latents is None or latents.ndim != 3:
            return None
        side = int(round(latents.shape[1] ** 0.5))
        if side * side != latents.shape[1]:
            return None  # non-square grids: the grid is not recoverable from the token count alone
        spatial = unpack(latents[:1].float(), (side, side))[None]  # (1, C, 2h, 2w)
        return self.image_processor.postprocess(from_latents(self.vae, spatial.to(self.vae.dtype)), "pil")[0]

    # ---- diffusers-style state --------------------------------------------------------------------------------
    @property
    def guidance_distilled(self) -> bool:
        """Whether the transformer takes the text and canvas guidance scales as an input (one pass per step)."""
        return bool(getattr(self.transformer.config, "guidance_distilled", False))

    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def joint_attention_kwargs(self) -> dict | None:
        return self._joint_attention_kwargs

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def current_timestep(self) -> torch.Tensor | None:
        return self._current_timestep

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    def image_canvas(self, image: Image.Image, prompt: str = "", height: int | None = None,
                     width: int | None = None) -> Canvas:
        """A Kontext user's input image as a one-layer canvas: the image scaled to cover (width × height) — default
        its own size rounded down to the canvas stride — locked, as Kontext keeps its context image."""
        from ..canvas.builders import fit_in_box

        if not isinstance(image, Image.Image):
            raise TypeError(f"image must be a PIL image, got {type(image).__name__}")
        step = math.lcm(self.stride, LIMITS.stride)  # the model's token side and the project files' size step
        w = width or max(step, image.width // step * step)
        h = height or max(step, image.height // step * step)
        layer = fit_in_box("image", image.convert("RGBA"), (0, 0, w, h), category=Category.background, locked=True,
                           fit="cover")
        return Canvas(width=w, height=h, layers=[layer], prompt=prompt)

    # ---- checks -------------------------------------------------------------------------------------------
    def check_inputs(self, *, prompts: list[str], canvases: list[Canvas], scheme: str, num_inference_steps: int,
                     guidance_scale: float, true_cfg_scale: float, height: int | None, width: int | None,
                     negative: list[str] | None, identity_embeds: list[dict[str, torch.Tensor]] | None,
                     switches: Switches, output_type: str, lock_blend: float = 0.0,
                     canvas_cfg_scale: float = 1.0) -> None:
        get_scheme(scheme)
        if not canvases:
            raise ValueError("no canvas given")
        if len(prompts) != len(canvases):
            raise ValueError(f"got {len(prompts)} prompts for {len(canvases)} canvases; give one prompt per canvas "
                             "(or a single string for all)")
        if negative is not None and len(negative) != len(prompts):
            raise ValueError(f"got {len(negative)} negative prompts for {len(prompts)} prompts")
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be an integer ≥ 1, got {num_inference_steps!r}")
        for name, v, low in (("guidance_scale", guidance_scale, 0.0), ("true_cfg_scale", true_cfg_scale, 1.0),
                             ("canvas_cfg_scale", canvas_cfg_scale, 1.0)):
            if not isinstance(v, int | float) or not math.isfinite(v) or v < low:
                raise ValueError(f"{name} must be a finite number ≥ {low}, got {v!r}")
        if output_type not in ("pil", "np", "pt", "latent"):
            raise ValueError(f"output_type must be 'pil', 'np', 'pt' or 'latent', got {output_type!r}")
        sizes = {(c.width, c.height) for c in canvases}
        if len(sizes) > 1:
            raise ValueError(f"all canvases in a batch must have one size, got {sorted(sizes)}")
        for c in canvases:
            if not isinstance(c, Canvas):
                raise TypeError(f"canvas must be a layercraft Canvas, got {type(c).__name__}")
            validate_canvas(c, stride=math.lcm(self.stride, LIMITS.stride))  # the stride the studio and validate use
        w, h = sizes.pop()
        if (height is not None and height != h) or (width is not None and width != w):
            raise ValueError(f"height×width {height}×{width} differs from the canvas size {h}×{w}; "
                             "resize the canvas instead")
        cfg = self.transformer.config
        switches.check(scheme, identity_embed_dim=cfg.identity_embed_dim if self.transformer.identity_projector
                       is not None else 0, dam_hidden_dim=cfg.dam_hidden_dim,
                       has_identity_embeds=identity_embeds is not None)
        if identity_embeds is not None and len(identity_embeds) != len(canvases):
            raise ValueError(f"got {len(identity_embeds)} identity_embeds entries for {len(canvases)} canvases")
        if not isinstance(lock_blend, int | float) or not 0.0 <= lock_blend <= 1.0:
            raise ValueError(f"lock_blend must be a number in [0, 1], got {lock_blend!r}")

    # ---- the call -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        canvas: Canvas | list[Canvas] | None = None,
        scheme: str = DEFAULT_SCHEME,
        num_inference_steps: int = 28,
        guidance_scale: float = 3.5,
        true_cfg_scale: float = 1.0,
        canvas_cfg_scale: float = 1.0,
        negative_prompt: str | list[str] | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        height: int | None = None,
        width: int | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        callback_on_step_end: Callable[[Any, int, torch.Tensor, dict], dict] | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ("latents",),
        prune: bool = True,
        prune_rule: str = "nearest",
        prune_tau: float = 0.0,
        lock_ids: bool = True,
        isolation: bool | None = None,
        modulation: bool = False,
        identity_embeds: list[dict[str, torch.Tensor]] | None = None,
        ccpa: bool | None = None,
        ccpa_tokens: int = 8,
        ccpa_anchor: str = "paper",
        dam: bool = False,
        cache: bool = False,
        ref_grid: int | None = None,
        lock_blend: float = 0.0,
        joint_attention_kwargs: dict[str, Any] | None = None,
        batch_guidance: bool = True,
        image: Image.Image | list[Image.Image] | None = None,
        num_images_per_prompt: int = 1,
        prompt_embeds: torch.Tensor | None = None,
        pooled_prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        negative_pooled_prompt_embeds: torch.Tensor | None = None,
        max_sequence_length: int | None = None,
        sigmas: list[float] | None = None,
    ) -> ImagePipelineOutput | tuple:
        """`true_cfg_scale` s_t guides towards the prompt (a pass with the negative prompt, same canvas);
        `canvas_cfg_scale` s_c towards the canvas (a pass with the prompt and an empty canvas, the branch the
        canvas dropout trains), composed as
            v = v(c, t) + (s_t − 1)·(v(c, t) − v(c, t⁻)) + (s_c − 1)·(v(c, t) − v(∅, t));
        1 turns either off. `lock_blend` ∈ [0, 1]: fraction of the steps during which latents under locked layers
        are pulled back to the canvas (see `lock_anchor`); 0 leaves locking to the model, as the paper does.
        `ref_grid` (One-for-All only): each unplaced reference is resized to ref_grid × ref_grid tokens instead of
        the target's grid, which cuts its condition tokens (and the attention cost) by (grid / ref_grid)²; use the
        value the model was trained with (its card's).
        `batch_guidance` runs the guidance branches that share a canvas (prompt and negative prompt) as one stacked
        transformer call (False: one call per branch; the same result up to float rounding).

        As in `FluxKontextPipeline`: `image` (without `canvas`) is taken as a one-layer canvas; true CFG runs only
        when a negative prompt (or its embeddings) is given — "" is a negative prompt; `prompt_embeds` +
        `pooled_prompt_embeds` (and the negative pair) replace text encoding; `num_images_per_prompt` repeats each
        (prompt, canvas); `sigmas` replaces the default σ grid (descending, in (0, 1]); `max_sequence_length` caps
        the prompt tokens for this call; setting `pipe._interrupt = True` (e.g. in a callback) stops after the
        current step."""
        if canvas is None and image is not None:
            images = image if isinstance(image, list) else [image]
            texts = prompt if isinstance(prompt, list) else [prompt or ""] * len(images)
            canvas = [self.image_canvas(im, t or "", height, width) for im, t in zip(images, texts, strict=True)]
        if canvas is None:
            raise ValueError("give a canvas (or an image, taken as a one-layer canvas)")
        canvases = [canvas] if isinstance(canvas, Canvas) else list(canvas)
        if prompt is None and prompt_embeds is None:
            raise ValueError("give a prompt or prompt_embeds")
        if prompt is None:
            prompt = [""] * len(canvases)
        prompts = [prompt] * len(canvases) if isinstance(prompt, str) else list(prompt)
        if (prompt_embeds is None) != (pooled_prompt_embeds is None):
            raise ValueError("prompt_embeds and pooled_prompt_embeds go together")
        if (negative_prompt_embeds is None) != (negative_pooled_prompt_embeds is None):
            raise ValueError("negative_prompt_embeds and negative_pooled_prompt_embeds go together")
        if not isinstance(num_images_per_prompt, int) or num_images_per_prompt < 1:
            raise ValueError(f"num_images_per_prompt must be an integer ≥ 1, got {num_images_per_prompt!r}")
        has_negative = negative_prompt is not None or negative_prompt_embeds is not None
        do_cfg = true_cfg_scale > 1.0 and has_negative
        if true_cfg_scale > 1.0 and not has_negative:
            logger.warning(f"true_cfg_scale {true_cfg_scale} has no effect without a negative prompt "
                           "(pass negative_prompt='' to guide against the empty prompt)")
        negative = None
        if negative_prompt is not None:
            negative = [negative_prompt] * len(prompts) if not isinstance(negative_prompt, list) \
                else list(negative_prompt)
        switches = Switches(prune=prune, prune_rule=prune_rule, prune_tau=prune_tau, lock_ids=lock_ids,
                            isolation=isolation, modulation=modulation, ccpa=ccpa, ccpa_tokens=ccpa_tokens,
                            ccpa_anchor=ccpa_anchor, dam=dam, cache=cache, ref_grid=ref_grid)
        self.check_inputs(prompts=prompts, canvases=canvases, scheme=scheme, num_inference_steps=num_inference_steps,
                          guidance_scale=guidance_scale, true_cfg_scale=true_cfg_scale, height=height, width=width,
                          negative=negative, identity_embeds=identity_embeds, switches=switches,
                          output_type=output_type, lock_blend=lock_blend, canvas_cfg_scale=canvas_cfg_scale)
        n = num_images_per_prompt
        if n > 1:  # each (prompt, canvas) n times, in order, as diffusers repeats prompts
            canvases, prompts = [c for c in canvases for _ in range(n)], [t for t in prompts for _ in range(n)]
            negative = None if negative is None else [t for t in negative for _ in range(n)]
            identity_embeds = None if identity_embeds is None else [e for e in identity_embeds for _ in range(n)]
        text = None if prompt_embeds is None else (prompt_embeds.repeat_interleave(n, 0),
                                                   pooled_prompt_embeds.repeat_interleave(n, 0))
        neg = None if negative_prompt_embeds is None or not do_cfg else (
            negative_prompt_embeds.repeat_interleave(n, 0), negative_pooled_prompt_embeds.repeat_interleave(n, 0))
        if text is not None and text[0].shape[0] != len(canvases):
            raise ValueError(f"prompt_embeds hold {text[0].shape[0] // n} prompts for {len(canvases) // n} canvases")
        self._guidance_scale, self._joint_attention_kwargs = guidance_scale, joint_attention_kwargs
        self._current_timestep, self._interrupt = None, False
        # 1-2. text, condition tokens, ids, joint mask, modulation inputs: shared with training
        distilled = self.guidance_distilled  # the scales are the model's input: no negative or empty-canvas branch
        inputs = self.build_inputs(prompts, canvases, scheme, switches, negative if do_cfg and not distilled else None,
                                   identity_embeds, guidance_scale, text_embeds=text,
                                   negative_embeds=None if distilled else neg,
                                   max_length=max_sequence_length)
        if distilled:  # one pass per step: the scales are an input of the model, not extra branches
            scales = torch.tensor([true_cfg_scale if do_cfg else 1.0, canvas_cfg_scale], dtype=torch.float32)
            inputs = replace(inputs, guidance_scales=scales.expand(inputs.batch_size, 2).to(inputs.text.device))
            true_cfg_scale, canvas_cfg_scale = 1.0, 1.0
        bare = None  # the canvas-dropped branch for canvas guidance: same prompts, no condition tokens
        if canvas_cfg_scale > 1.0:
            empty = [Canvas(width=c.width, height=c.height, prompt=c.prompt) for c in canvases]
            bare = self.build_inputs(prompts, empty, scheme, switches.replace(modulation=False), None, None,
                                     guidance_scale, text_embeds=text, max_length=max_sequence_length)
        guided = GuidedVelocity(guidance_branches(inputs, true_cfg_scale if do_cfg else 1.0, canvas_cfg_scale, bare),
                                batch=batch_guidance)
        grid = (canvases[0].height // self.stride, canvases[0].width // self.stride)

        # 3. noise and schedule (as Flux: shifted sigmas for the image sequence length)
        if latents is None:
            latents = self.initial_noise(len(canvases), grid, generator)  # (B, L, C·4)
        latents = latents.to(self._execution_device, self.transformer.dtype)
        sigmas = self.sampling_sigmas(num_inference_steps, inputs.n_noisy, sigmas)
        self._num_timesteps = num_inference_steps
        hooks: list[Hook] = [_CurrentTimestep(self, sigmas)]
        n_anchored = round(lock_blend * num_inference_steps)
        anchor = lock_anchor(self.vae, canvases, self.vae_factor, latents) if n_anchored else None
        if anchor is not None:
            hooks.append(LockAnchorHook(anchor, n_anchored))
        if callback_on_step_end is not None:
            hooks.append(StepCallback(self, callback_on_step_end, callback_on_step_end_tensor_inputs, sigmas,
                                      {"prompt_embeds": inputs.text}))
        # 4. denoise
        with self.progress_bar(total=num_inference_steps) as bar:
            latents = denoise(self.transformer, guided, latents, sigmas, hooks, joint_attention_kwargs, bar.update,
                              interrupted=lambda: self._interrupt)
        self._current_timestep = None

        # 5. decode
        images = self.decode(latents, grid, output_type)
        self.maybe_free_model_hooks()
        return ImagePipelineOutput(images=images) if return_dict else (images,)
