"""LcpPipeline: LCP-Diffusion (Fig. 2) on an SD1.5-style `UNet2DConditionModel`, from a layered canvas.

Each placed layer is one subject: its box and mask come from the layer, its own image is the reference. With an
`LcpAdapter` (and a CLIP `image_encoder`), the DA-Encoder gives dynamic features c_d (eq. 11), the static detail
refiner (this UNet, frozen, on the masked subject with its category prompt) gives c_s (eq. 9) and the layout-aware
module gives grounding tokens g (eq. 4, 10). Box-constrained cross-attention regulation (eq. 5-8) needs no
adapter: it runs on any UNet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from diffusers import DDIMScheduler, DiffusionPipeline
from diffusers.image_processor import VaeImageProcessor
from diffusers.loaders import StableDiffusionLoraLoaderMixin, TextualInversionLoaderMixin
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor

from ...canvas.types import Canvas
from ...models.lcp.regulation import box_loss, regulate, step_size
from ...models.unet.adapter import LcpAdapter, transformer_blocks
from ...models.unet.processors import AttentionStore, LcpCallState, LcpCrossAttnProcessor, LcpSelfAttnProcessor
from ...models.unet.refiner import refiner_features
from .sd_common import (
    clip_grid_features,
    decode_latents,
    encode_images,
    encode_prompts,
    encode_words,
    resize_masks,
    to_tensor,
)
from .subjects import Subject, canvas_subjects
from .tokens import find_subject_tokens


def install_plain_processors(unet: torch.nn.Module) -> None:
    """LCP processors without adapter weights: exact base attention, but able to record maps for regulation."""
    for name, block in transformer_blocks(unet).items():
        block.attn1.set_processor(LcpSelfAttnProcessor(f"{name}.attn1"))
        block.attn2.set_processor(LcpCrossAttnProcessor(f"{name}.attn2"))


class LcpPipeline(DiffusionPipeline, StableDiffusionLoraLoaderMixin, TextualInversionLoaderMixin):
    model_cpu_offload_seq = "text_encoder->image_encoder->unet->vae"
    _optional_components = ["image_encoder", "adapter"]

    def __init__(self, vae: Any, text_encoder: Any, tokenizer: Any, unet: Any, scheduler: DDIMScheduler,
                 image_encoder: Any = None, adapter: LcpAdapter | None = None):
        super().__init__()
        self.register_modules(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                              scheduler=scheduler, image_encoder=image_encoder, adapter=adapter)
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor)
        if adapter is not None:
            adapter.install(unet)
        else:
            install_plain_processors(unet)

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs: Any) -> LcpPipeline:
        """A local SD1.5-style directory (adds an `adapter/` and `image_encoder/` when present)."""
        index = json.loads((Path(path) / "model_index.json").read_text())
        if "adapter" not in kwargs:
            kwargs["adapter"] = (LcpAdapter.from_pretrained(Path(path) / "adapter")
                                 if (Path(path) / "adapter").is_dir() else None)
        if "image_encoder" not in kwargs and "image_encoder" not in index:
            kwargs["image_encoder"] = None
        return super().from_pretrained(path, **kwargs)

    # ---- conditioning ------------------------------------------------------------------------------------
    def subject_state(self, subjects: list[Subject], size: tuple[int, int], static_scale: float,
                      dynamic_scale: float, grounding_scale: float) -> tuple[LcpCallState, dict | None]:
        """c_d, c_s (+ M_s) and grounding tokens for one canvas (all subjects concatenated along tokens)."""
        dev = self._execution_device
        if self.adapter is None or not subjects:
            return LcpCallState(), None
        adapter = self.adapter
        state = LcpCallState(static_scale=static_scale, dynamic_scale=dynamic_scale)
        if self.image_encoder is not None:
            grid = clip_grid_features(self.image_encoder, [s.image for s in subjects])  # (K, P, D_img)
            with torch.no_grad():
                cd = adapter.dynamic_features(grid.to(dev))  # (K, Q, D)
            state.dynamic_tokens = cd.reshape(1, -1, cd.shape[-1])
        # static detail refiner: the frozen denoiser on the masked subject, conditioned on its category
        lat = encode_images(self.vae, to_tensor([s.image for s in subjects], size))  # (K, C, h, w)
        hw = tuple(lat.shape[-2:])
        masks = torch.cat([resize_masks([s.own_mask], hw) for s in subjects]).to(dev)  # (K, h, w)
        lat = lat * masks[:, None].to(lat.dtype)
        cat_text = encode_prompts(self.tokenizer, self.text_encoder,
                                  [f"a {s.category.value.replace('_', ' ')}" for s in subjects], dev)
        levels = refiner_features(self.unet, lat.to(self.unet.dtype), cat_text.to(self.unet.dtype), masks)
        with torch.no_grad():
            cs, ms = adapter.aggregate_static(levels, masks, hw)  # (K, S, D_s), (K, S)
            entity = encode_words(self.tokenizer, self.text_encoder, [s.words for s in subjects], dev)
            boxes = torch.tensor([s.box for s in subjects], device=dev)
            g = adapter.grounding_tokens(cs, ms, entity, boxes)  # (1, 2K, D_g)
        state.static_tokens = cs.reshape(1, -1, cs.shape[-1])
        state.static_mask = ms.reshape(1, -1)
        return state, {"tokens": g, "beta": grounding_scale}

    def subject_token_index(self, prompt: str, subjects: list[Subject],
                            overrides: dict[str, str | list[int]] | None) -> torch.Tensor:
        """One token per subject (the last of its run, the head noun) → (K,)."""
        idx = []
        for s in subjects:
            words = (overrides or {}).get(s.layer_id, s.words)
            idx.append(find_subject_tokens(self.tokenizer, prompt, words, (s.category.value.replace("_", " "),))[-1])
        return torch.tensor(idx)

    def check_inputs(self, prompt: str, canvas: Canvas, num_inference_steps: int, output_type: str) -> None:
        if not isinstance(canvas, Canvas):
            raise TypeError(f"canvas must be a layercraft Canvas, got {type(canvas).__name__}")
        if not isinstance(prompt, str) or not prompt:
            raise ValueError("prompt must be a non-empty string")
        f = self.vae_scale_factor
        if canvas.width % f or canvas.height % f:
            raise ValueError(f"canvas size {canvas.width}×{canvas.height} must be a multiple of {f}")
        if num_inference_steps < 1:
            raise ValueError("num_inference_steps must be ≥ 1")
        if output_type not in ("pil", "np", "pt", "latent"):
            raise ValueError(f"unknown output_type {output_type!r}")

    # ---- the call ----------------------------------------------------------------------------------------
    def __call__(
        self,
        prompt: str,
        canvas: Canvas,
        num_inference_steps: int = 50,
        guidance_scale: float = 7.5,
        negative_prompt: str = "",
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        regulation: bool = True,
        regulation_scale: float = 30.0,
        regulation_steps: int = 10,
        regulation_iterations: int = 1,
        step_size_base: float = 1.0,
        scale_loss_weight: float = 1.0,
        subject_tokens: dict[str, str | list[int]] | None = None,
        static_scale: float = 1.0,
        ip_scale: float = 1.0,
        grounding_scale: float = 1.0,
        callback_on_step_end: Callable[[Any, int, torch.Tensor, dict], dict] | None = None,
    ) -> ImagePipelineOutput | tuple:
        self.check_inputs(prompt, canvas, num_inference_steps, output_type)
        dev, dtype = self._execution_device, self.unet.dtype
        subjects = canvas_subjects(canvas)
        size = (canvas.width, canvas.height)
        h, w = canvas.height // self.vae_scale_factor, canvas.width // self.vae_scale_factor

        text = encode_prompts(self.tokenizer, self.text_encoder, [prompt], dev).to(dtype)  # (1, T, D)
        do_cfg = guidance_scale > 1.0
        neg = encode_prompts(self.tokenizer, self.text_encoder, [negative_prompt], dev).to(dtype) if do_cfg else None
        state, gligen = self.subject_state(subjects, size, static_scale, ip_scale, grounding_scale)
        regulate_on = regulation and bool(subjects) and regulation_steps > 0 and regulation_scale > 0
        boxes = torch.tensor([s.box for s in subjects], device=dev) if subjects else None
        token_index = self.subject_token_index(prompt, subjects, subject_tokens) if regulate_on else None

        shape = (1, self.unet.config.in_channels, h, w)
        latents = randn_tensor(shape, generator=generator, device=dev, dtype=dtype) if latents is None else latents
        self.scheduler.set_timesteps(num_inference_steps, device=dev)
        latents = latents.to(dev, dtype) * self.scheduler.init_noise_sigma

        def kwargs_for(st: LcpCallState) -> dict:
            return {"lcp": st, **({"gligen": gligen} if gligen is not None else {})}

        with self.progress_bar(total=num_inference_steps) as bar:
            for i, t in enumerate(self.scheduler.timesteps):
                if regulate_on and i < regulation_steps:
                    store = AttentionStore(token_index, keep_grad=True)
                    reg_state = LcpCallState(**{**state.__dict__, "store": store})

                    def loss_fn(z: torch.Tensor, t=t, store=store, reg_state=reg_state) -> torch.Tensor:
                        store.clear()
                        self.unet(self.scheduler.scale_model_input(z, t), t, encoder_hidden_states=text,
                                  cross_attention_kwargs=kwargs_for(reg_state))
                        return box_loss(store.maps, boxes, aspect=h / w, scale_weight=scale_loss_weight)

                    alpha = step_size(i, regulation_steps, step_size_base)
                    latents = regulate(latents, loss_fn, alpha, regulation_scale, regulation_iterations)
                with torch.no_grad():
                    x = torch.cat([latents] * 2) if do_cfg else latents
                    ctx = torch.cat([neg, text]) if do_cfg else text
                    eps = self.unet(self.scheduler.scale_model_input(x, t), t, encoder_hidden_states=ctx,
                                    cross_attention_kwargs=kwargs_for(state)).sample
                    if do_cfg:
                        e_u, e_c = eps.chunk(2)
                        eps = e_u + guidance_scale * (e_c - e_u)
                    latents = self.scheduler.step(eps, t, latents, generator=generator).prev_sample
                if callback_on_step_end is not None:
                    latents = callback_on_step_end(self, i, t, {"latents": latents}).get("latents", latents)
                bar.update()

        if output_type == "latent":
            images = latents
        else:
            images = self.image_processor.postprocess(decode_latents(self.vae, latents).float(),
                                                      output_type=output_type)
        self.maybe_free_model_hooks()
        return ImagePipelineOutput(images=images) if return_dict else (images,)
