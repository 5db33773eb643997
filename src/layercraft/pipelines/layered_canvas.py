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

from ..canvas.types import Canvas, Category
from ..canvas.validate import validate_canvas
from ..conditioning import item_text_ids, noisy_ids, pack, unpack
from ..models.attention import ConditionKVCache
from ..models.autoencoder import from_latents, latent_geometry
from ..models.registry import get_spec
from ..models.text import encode_flux, encode_single
from ..models.transformer import JointConditioning, LayercraftFluxTransformer
from .conditions import CanvasConditions, encode_conditions, plan_canvas, text_padding_mask


def default_scheduler() -> FlowMatchEulerDiscreteScheduler:
    """FLUX's sampling schedule: flow-matching Euler with resolution-dependent shift."""
    return FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_image_seq_len=256, max_image_seq_len=4096,
                                           base_shift=0.5, max_shift=1.15)


SCHEMES = ("layercomposer", "anyphoto", "one_for_all", "kontext_collage")
DEFAULT_ISOLATION = {"layercomposer": False, "anyphoto": True, "one_for_all": False, "kontext_collage": False}


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

    def descriptor_text(self, conds: CanvasConditions, grid: tuple[int, int], n_tokens: int,
                        anchor: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """CCPA: per canvas, descriptor token states (n_desc·n_tokens, D) and their ids at the block centres."""
        states, ids = [], []
        for plans in conds.plans:
            described = [p for p in plans if p.descriptor]
            if not described:
                states.append(torch.zeros(0, self.transformer.config.joint_attention_dim))
                ids.append(torch.zeros(0, 3))
                continue
            tokens, _ = self.encode_text([p.descriptor for p in described], n_tokens)  # (n_desc, n_tokens, D)
            states.append(tokens.reshape(-1, tokens.shape[-1]).cpu())
            ids.append(torch.cat([item_text_ids(Category(p.spec.category), tuple(p.spec.keep.shape), grid, n_tokens,
                                                anchor) for p in described]))
        return states, ids

    # ---- checks -------------------------------------------------------------------------------------------
    def check_inputs(self, prompts: list[str], canvases: list[Canvas], scheme: str, num_inference_steps: int,
                     guidance_scale: float, true_cfg_scale: float, height: int | None, width: int | None,
                     negative: list[str] | None, identity_embeds: list[dict[str, torch.Tensor]] | None,
                     modulation: bool, dam: bool, cache: bool, output_type: str) -> None:
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
        for name, v, low in (("guidance_scale", guidance_scale, 0.0), ("true_cfg_scale", true_cfg_scale, 1.0)):
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
            validate_canvas(c, stride=self.stride)
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
        joint_attention_kwargs: dict[str, Any] | None = None,
    ) -> ImagePipelineOutput | tuple:
        canvases = [canvas] if isinstance(canvas, Canvas) else list(canvas)
        prompts = [prompt] * len(canvases) if isinstance(prompt, str) else list(prompt)
        do_cfg = true_cfg_scale > 1.0
        negative = None
        if do_cfg or negative_prompt is not None:
            negative = [negative_prompt or ""] * len(prompts) if not isinstance(negative_prompt, list) \
                else list(negative_prompt)
        self.check_inputs(prompts, canvases, scheme, num_inference_steps, guidance_scale, true_cfg_scale, height,
                          width, negative, identity_embeds, modulation, dam, cache, output_type)
        isolation = DEFAULT_ISOLATION[scheme] if isolation is None else isolation
        ccpa = (scheme == "one_for_all") if ccpa is None else ccpa
        grid = (canvases[0].height // self.stride, canvases[0].width // self.stride)
        plans = [plan_canvas(c, scheme, grid, prune=prune, lock_ids=lock_ids, rule=prune_rule, tau=prune_tau)
                 for c in canvases]  # cheap, and raises on scheme/canvas mismatches before any model runs
        device, dtype = self._execution_device, self.transformer.dtype
        b, n_noisy = len(canvases), grid[0] * grid[1]

        # 1. text: prompt tokens (+ CCPA descriptor tokens at their block centres)
        text, pooled = self.encode_text(prompts)  # (B, T, D), (B, Dp)
        neg_text, neg_pooled = self.encode_text(negative) if do_cfg else (None, None)
        conds = encode_conditions(self.vae, canvases, scheme, grid, plans=plans)
        batch = conds.batch
        txt_ids: torch.Tensor = torch.zeros(text.shape[1], 3)
        text_lengths = [text.shape[1]] * b
        if ccpa:
            states, desc_ids = self.descriptor_text(conds, grid, ccpa_tokens, ccpa_anchor)
            text, txt_ids, text_lengths = _append_text(text, states, desc_ids)
            if do_cfg:
                neg_text, _, _ = _append_text(neg_text, states, desc_ids)

        # 2. joint attention mask, modulation inputs, ids
        mode = ("isolated" if isolation else "full") + ("_cacheable" if cache else "")
        mode = mode.replace("full_", "")
        ragged = len({sum(ln) for ln in batch.lengths}) > 1 or len(set(text_lengths)) > 1
        mask = None
        if mode != "full" or ragged:
            mask = batch.attention_mask(text.shape[1], n_noisy, mode)
            mask = text_padding_mask(mask, text_lengths).to(device)
        ids_noisy = noisy_ids(grid)  # (L, 3)
        if b == 1 and txt_ids.ndim == 2:
            img_ids = torch.cat([ids_noisy, batch.ids[0]])  # (L + M, 3): the stock shared-table path
        else:
            img_ids = torch.cat([ids_noisy.expand(b, -1, -1), batch.ids], 1)  # (B, L + M, 3)
            txt_ids = txt_ids if txt_ids.ndim == 3 else txt_ids.expand(b, -1, -1)
        cond_tokens = batch.tokens.reshape(b, batch.tokens.shape[1], self.latent_channels * 4).to(device, dtype)
        id_embeds, id_valid = _identity_table(identity_embeds, conds, device, dtype) if modulation else (None, None)

        def conditioning() -> JointConditioning:
            return JointConditioning(batch.segment.to(device), mask, id_embeds, id_valid, timestep_free=cache,
                                     dam=dam, kv_cache=ConditionKVCache() if cache else None)

        cond_pos, cond_neg = conditioning(), conditioning() if do_cfg else None

        # 3. noise and schedule (as Flux: shifted sigmas for the image sequence length)
        shape = (b, self.latent_channels, grid[0] * 2, grid[1] * 2)
        if latents is None:
            noise = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
            latents = torch.stack([pack(x) for x in noise])  # (B, L, C·4)
        latents = latents.to(device, dtype)
        sigmas = np.linspace(1.0, 1 / num_inference_steps, num_inference_steps)
        sc = self.scheduler.config
        mu = calculate_shift(n_noisy, sc.get("base_image_seq_len", 256), sc.get("max_image_seq_len", 4096),
                             sc.get("base_shift", 0.5), sc.get("max_shift", 1.15))
        timesteps, _ = retrieve_timesteps(self.scheduler, num_inference_steps, device, sigmas=sigmas, mu=mu)
        guidance = (torch.full((b,), float(guidance_scale), device=device, dtype=torch.float32)
                    if self.transformer.config.guidance_embeds else None)

        def velocity(x: torch.Tensor, t: torch.Tensor, txt: torch.Tensor, pool: torch.Tensor,
                     cond: JointConditioning) -> torch.Tensor:
            reading = cond.kv_cache is not None and cond.kv_cache.filled
            hidden = x if reading else torch.cat([x, cond_tokens], 1)  # (B, L [+ M], C·4)
            ids = img_ids[..., :n_noisy, :] if reading else img_ids
            out = self.transformer(hidden, txt, pool, t.expand(b).to(dtype) / 1000, ids, txt_ids.to(device),
                                   guidance, joint_attention_kwargs, conditioning=cond).sample
            return out[:, :n_noisy]

        # 4. denoise
        self.scheduler.set_begin_index(0)
        with self.progress_bar(total=len(timesteps)) as bar:
            for i, t in enumerate(timesteps):
                v = velocity(latents, t, text, pooled, cond_pos)
                if do_cfg:
                    v_neg = velocity(latents, t, neg_text, neg_pooled, cond_neg)
                    v = v_neg + true_cfg_scale * (v - v_neg)
                latents = self.scheduler.step(v, t, latents, return_dict=False)[0].to(dtype)
                if callback_on_step_end is not None:
                    state = {"latents": latents, "prompt_embeds": text}
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


def _append_text(text: torch.Tensor, states: list[torch.Tensor],
                 desc_ids: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """[prompt tokens (T); descriptor tokens (n_b)] per sample, zero-padded → (B, T + max n_b, D), ids (B, ·, 3)."""
    b, t, d = text.shape
    n = max(s.shape[0] for s in states)
    out = torch.zeros(b, t + n, d, dtype=text.dtype, device=text.device)
    ids = torch.zeros(b, t + n, 3)
    out[:, :t] = text
    for i, (s, p) in enumerate(zip(states, desc_ids, strict=True)):
        out[i, t : t + s.shape[0]] = s.to(text)
        ids[i, t : t + s.shape[0]] = p
    return out, ids, [t + s.shape[0] for s in states]


def _identity_table(identity_embeds: list[dict[str, torch.Tensor]], conds: CanvasConditions, device: torch.device,
                    dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Per canvas {layer id → (E,)} → (B, K, E) in segment order and (B, K) bool: which segments have one."""
    k = max(len(p) for p in conds.plans)
    e = next(v for d in identity_embeds for v in d.values()).shape[-1]
    table = torch.zeros(len(conds.plans), k, e)
    valid = torch.zeros(len(conds.plans), k, dtype=torch.bool)
    for i, (plans, embeds) in enumerate(zip(conds.plans, identity_embeds, strict=True)):
        unknown = set(embeds) - {p.layer_id for p in plans}
        if unknown:
            raise ValueError(f"identity_embeds for canvas {i} name layers not in it: {sorted(unknown)}")
        for j, p in enumerate(plans):
            if p.layer_id in embeds:
                table[i, j], valid[i, j] = torch.as_tensor(embeds[p.layer_id]).float().reshape(-1), True
    return table.to(device, dtype), valid.to(device)
