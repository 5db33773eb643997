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
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from diffusers.image_processor import VaeImageProcessor
from diffusers.loaders import FluxLoraLoaderMixin
from diffusers.pipelines.flux.pipeline_flux import calculate_shift, retrieve_timesteps
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from ..canvas.limits import LIMITS
from ..canvas.types import Canvas
from ..canvas.validate import validate_canvas
from ..conditioning import pack, unpack
from ..models.autoencoder import from_latents, latent_geometry
from ..models.registry import get_spec
from ..models.text import encode_flux, encode_single
from ..models.transformer import LayercraftFluxTransformer
from .inputs import SCHEMES, Switches, prepare_inputs
from .lock_anchor import lock_anchor


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

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs: Any) -> LayeredCanvasPipeline:
        """Loads our own saves and stock FLUX / Kontext directories alike: the transformer always comes up
        as LayercraftFluxTransformer (stock weights load unchanged)."""
        index_file = Path(path) / "model_index.json"
        index = json.loads(index_file.read_text()) if index_file.is_file() else {}
        if any(isinstance(v, list) and str(v[0]).startswith("layercraft") for v in index.values()):
            return cls._load_own_save(Path(path), index, **kwargs)
        if "transformer" not in kwargs and index.get("transformer", [None])[0] == "diffusers":
            extra = {k: kwargs[k] for k in ("torch_dtype", "local_files_only") if k in kwargs}
            kwargs["transformer"] = LayercraftFluxTransformer.from_pretrained(path, subfolder="transformer", **extra)
        if "max_sequence_length" not in kwargs:
            kwargs["max_sequence_length"] = index.get("max_sequence_length", 512)
        return super().from_pretrained(path, **kwargs)

    @classmethod
    def _load_own_save(cls, path: Path, index: dict[str, Any], **kwargs: Any) -> LayeredCanvasPipeline:
        """A directory written by our save_pretrained: components whose classes live in layercraft modules,
        which diffusers' loader does not import, so each is loaded by its recorded (module, class)."""
        dtype = kwargs.pop("torch_dtype", None)
        components: dict[str, Any] = {}
        for name, entry in index.items():
            if name.startswith("_") or not isinstance(entry, list) or name in kwargs:
                continue
            library, class_name = entry
            if library is None:
                components[name] = None
                continue
            klass = getattr(importlib.import_module(library), class_name)
            extra = {"torch_dtype": dtype} if dtype is not None and name in ("transformer", "vae") else {}
            if class_name == "BertModel":  # MiniLM is saved without its pooler (we pool ourselves)
                extra["add_pooling_layer"] = False
            components[name] = klass.from_pretrained(path / name, **extra)
        max_len = kwargs.pop("max_sequence_length", index.get("max_sequence_length", 64))
        return cls(**components, **kwargs, max_sequence_length=max_len)

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

    # ---- checks -------------------------------------------------------------------------------------------
    def check_inputs(self, prompts: list[str], canvases: list[Canvas], scheme: str, num_inference_steps: int,
                     guidance_scale: float, true_cfg_scale: float, height: int | None, width: int | None,
                     negative: list[str] | None, identity_embeds: list[dict[str, torch.Tensor]] | None,
                     modulation: bool, dam: bool, cache: bool, output_type: str, lock_blend: float = 0.0,
                     canvas_cfg_scale: float = 1.0) -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; choose from {SCHEMES}")
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
        if modulation and identity_embeds is None:
            raise ValueError("modulation=True needs identity_embeds (one dict layer id → embedding per canvas)")
        if modulation and self.transformer.identity_projector is None:
            raise ValueError("modulation=True but the transformer has no identity projector (identity_embed_dim = 0)")
        if identity_embeds is not None and len(identity_embeds) != len(canvases):
            raise ValueError(f"got {len(identity_embeds)} identity_embeds entries for {len(canvases)} canvases")
        if dam and self.transformer.config.dam_hidden_dim <= 0:
            raise ValueError("dam=True but the transformer has no DAM temperature generators (dam_hidden_dim = 0)")
        if not isinstance(lock_blend, int | float) or not 0.0 <= lock_blend <= 1.0:
            raise ValueError(f"lock_blend must be a number in [0, 1], got {lock_blend!r}")
        if cache and scheme == "kontext_collage":
            raise ValueError("cache=True needs a model trained with cacheable conditions; stock Kontext is not")

    # ---- the call -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        canvas: Canvas | list[Canvas],
        scheme: str = "layercomposer",
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
        lock_blend: float = 0.0,
        joint_attention_kwargs: dict[str, Any] | None = None,
    ) -> ImagePipelineOutput | tuple:
        """`true_cfg_scale` s_t guides towards the prompt (a pass with the negative prompt, same canvas);
        `canvas_cfg_scale` s_c towards the canvas (a pass with the prompt and an empty canvas, the branch the
        canvas dropout trains), composed as
            v = v(c, t) + (s_t − 1)·(v(c, t) − v(c, t⁻)) + (s_c − 1)·(v(c, t) − v(∅, t));
        1 turns either off. `lock_blend` ∈ [0, 1]: fraction of the steps during which latents under locked layers
        are pulled back to the canvas (see `lock_anchor`); 0 leaves locking to the model, as the paper does."""
        canvases = [canvas] if isinstance(canvas, Canvas) else list(canvas)
        prompts = [prompt] * len(canvases) if isinstance(prompt, str) else list(prompt)
        do_cfg = true_cfg_scale > 1.0
        negative = None
        if do_cfg or negative_prompt is not None:
            negative = [negative_prompt or ""] * len(prompts) if not isinstance(negative_prompt, list) \
                else list(negative_prompt)
        self.check_inputs(prompts, canvases, scheme, num_inference_steps, guidance_scale, true_cfg_scale, height,
                          width, negative, identity_embeds, modulation, dam, cache, output_type, lock_blend,
                          canvas_cfg_scale)
        switches = Switches(prune, prune_rule, prune_tau, lock_ids, isolation, modulation, ccpa, ccpa_tokens,
                            ccpa_anchor, dam, cache)
        # 1-2. text, condition tokens, ids, joint mask, modulation inputs: shared with training
        inputs = prepare_inputs(self, prompts, canvases, scheme, switches, negative if do_cfg else None,
                                identity_embeds, guidance_scale)
        grid = (canvases[0].height // self.stride, canvases[0].width // self.stride)
        device, dtype = self._execution_device, self.transformer.dtype
        b, n_noisy = len(canvases), inputs.n_noisy
        cond_pos, cond_neg = inputs.conditioning(), inputs.conditioning() if do_cfg else None
        bare = None  # the canvas-dropped branch for canvas guidance: same prompts, no condition tokens
        if canvas_cfg_scale > 1.0:
            empty = [Canvas(width=c.width, height=c.height, prompt=c.prompt) for c in canvases]
            bare = prepare_inputs(self, prompts, empty, scheme, replace(switches, modulation=False), None, None,
                                  guidance_scale)
            cond_bare = bare.conditioning()

        # 3. noise and schedule (as Flux: shifted sigmas for the image sequence length)
        shape = (b, self.latent_channels, grid[0] * 2, grid[1] * 2)
        if latents is None:
            noise = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
            latents = torch.stack([pack(x) for x in noise])  # (B, L, C·4)
        latents = latents.to(device, dtype)
        n_anchored = round(lock_blend * num_inference_steps)
        anchor = lock_anchor(self.vae, canvases, self.vae_factor, latents) if n_anchored else None
        sigmas = np.linspace(1.0, 1 / num_inference_steps, num_inference_steps)
        sc = self.scheduler.config
        mu = calculate_shift(n_noisy, sc.get("base_image_seq_len", 256), sc.get("max_image_seq_len", 4096),
                             sc.get("base_shift", 0.5), sc.get("max_shift", 1.15))
        timesteps, _ = retrieve_timesteps(self.scheduler, num_inference_steps, device, sigmas=sigmas, mu=mu)
        # 4. denoise
        self.scheduler.set_begin_index(0)
        with self.progress_bar(total=len(timesteps)) as bar:
            for i, t in enumerate(timesteps):
                sigma = (t / 1000).to(dtype)
                v_pos = inputs.velocity(latents, sigma, cond_pos, joint_attention_kwargs=joint_attention_kwargs)
                v = v_pos
                if do_cfg:
                    v_neg = inputs.velocity(latents, sigma, cond_neg, negative=True,
                                            joint_attention_kwargs=joint_attention_kwargs)
                    v = v + (true_cfg_scale - 1.0) * (v_pos - v_neg)
                if bare is not None:
                    v_bare = bare.velocity(latents, sigma, cond_bare, joint_attention_kwargs=joint_attention_kwargs)
                    v = v + (canvas_cfg_scale - 1.0) * (v_pos - v_bare)
                latents = self.scheduler.step(v, t, latents, return_dict=False)[0].to(dtype)
                if anchor is not None and i < n_anchored:
                    latents = anchor.apply(latents, float(self.scheduler.sigmas[i + 1]))
                if callback_on_step_end is not None:
                    state = {"latents": latents, "prompt_embeds": inputs.text}
                    out = callback_on_step_end(self, i, t, {k: state[k] for k in callback_on_step_end_tensor_inputs})
                    latents = out.pop("latents", latents)
                bar.update()

        # 5. decode
        if output_type == "latent":
            images = latents
        else:
            spatial = torch.stack([unpack(x, grid) for x in latents])  # (B, C, 2h, 2w)
            images = self.image_processor.postprocess(from_latents(self.vae, spatial), output_type=output_type)
        self.maybe_free_model_hooks()
        return ImagePipelineOutput(images=images) if return_dict else (images,)
