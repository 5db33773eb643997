"""LayoutRetouchPipeline on SD1.5-style UNets (Layout-and-Retouch sec. 3.2, Algorithm 1), from a layered canvas.

Stage 1, step-blended denoising: the vanilla model with the class prompt y_p for the first λ1 steps, the
personalized model with the special-token prompt y_r after → layout latent z_l.
Stage 2, retouch: DDIM inversion of the layout latent and of the reference (the subject layer's own image), then
three paths [reference; layout; target] denoised as one batch by the personalized model with multi-source
attention swap (layout Q/K/V for the first λ2 steps, reference K/V after) and adaptive mask blending of the
target's self-attention output with the layout's.

The personalized model is `personalized_unet` when given, else `unet` with its loaded LoRA adapters enabled
(the vanilla model is the same UNet with adapters disabled); textual-inversion tokens load with
`load_textual_inversion`. The segmentation mask M^SAM of the layout image comes from `segmenter` when given, else
from the subject layer's mask on the canvas (where stage 1's box regulation, if on, put the subject).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DiffusionPipeline
from diffusers.image_processor import VaeImageProcessor
from diffusers.loaders import StableDiffusionLoraLoaderMixin, TextualInversionLoaderMixin
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from ...canvas.types import Canvas
from ...models.unet.processors import AttentionStore
from ...models.unet.swap import SwapState, install_swap
from ..lcp.sd_common import decode_latents, encode_images, encode_prompts, to_tensor
from ..lcp.subjects import Subject, canvas_subjects
from ..lcp.tokens import find_subject_tokens
from .ddim_inversion import ddim_invert
from .masks import adaptive_blend_mask, cross_attention_mask


class LayoutRetouchPipeline(DiffusionPipeline, StableDiffusionLoraLoaderMixin, TextualInversionLoaderMixin):
    model_cpu_offload_seq = "text_encoder->unet->personalized_unet->vae"
    _optional_components = ["personalized_unet"]

    def __init__(self, vae: Any, text_encoder: Any, tokenizer: Any, unet: Any, scheduler: DDIMScheduler,
                 personalized_unet: Any = None):
        super().__init__()
        self.register_modules(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                              scheduler=scheduler, personalized_unet=personalized_unet)
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor)

    # ---- models ------------------------------------------------------------------------------------------
    @contextmanager
    def model(self, personalized: bool):
        """The vanilla (ε_θ) or personalized (ε'_θ) denoiser."""
        if self.personalized_unet is not None:
            yield self.personalized_unet if personalized else self.unet
            return
        has_lora = bool(getattr(self.unet, "peft_config", None))
        if has_lora and not personalized:
            self.unet.disable_adapters()
        try:
            yield self.unet
        finally:
            if has_lora and not personalized:
                self.unet.enable_adapters()

    def _eps(self, unet, z: torch.Tensor, t, text: torch.Tensor, neg: torch.Tensor | None,
             guidance_scale: float) -> torch.Tensor:
        if neg is None or guidance_scale <= 1.0:
            return unet(z, t, encoder_hidden_states=text).sample
        e_u, e_c = unet(torch.cat([z, z]), t, encoder_hidden_states=torch.cat([neg, text])).sample.chunk(2)
        return e_u + guidance_scale * (e_c - e_u)

    # ---- stage 1 -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def step_blended(self, class_prompt: str, prompt: str, latents: torch.Tensor, num_inference_steps: int,
                     blend_steps: int, guidance_scale: float, negative_prompt: str = "") -> torch.Tensor:
        """z^{i-1} = Sample(z^i, ε_θ(z^i, y_p)) for the first λ1 = `blend_steps` steps, ε'_θ(z^i, y_r) after."""
        dev = self._execution_device
        y_p, y_r, neg = (encode_prompts(self.tokenizer, self.text_encoder, [p], dev)
                         for p in (class_prompt, prompt, negative_prompt))
        self.scheduler.set_timesteps(num_inference_steps, device=dev)
        z = latents * self.scheduler.init_noise_sigma
        for i, t in enumerate(self.scheduler.timesteps):
            vanilla = i < blend_steps
            with self.model(personalized=not vanilla) as unet:
                eps = self._eps(unet, z, t, y_p if vanilla else y_r, neg, guidance_scale)
            z = self.scheduler.step(eps, t, z).prev_sample
        return z

    # ---- stage 2 -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def invert(self, latents: torch.Tensor, prompt: str, num_inference_steps: int, refine: int = 0) -> torch.Tensor:
        """DDIM inversion z_0 → z_T with the personalized model and `prompt` (no guidance); `refine` fixed-point
        iterations per step (`ddim_inversion.ddim_invert`)."""
        text = encode_prompts(self.tokenizer, self.text_encoder, [prompt] * latents.shape[0], self._execution_device)
        with self.model(personalized=True) as unet:
            return ddim_invert(lambda z, t: unet(z, t, encoder_hidden_states=text).sample, latents,
                               self.scheduler.config, num_inference_steps, refine)[-1]

    @torch.no_grad()
    def retouch(self, layout_latents: torch.Tensor, reference_latents: torch.Tensor, layout_prompt: str,
                reference_prompt: str, target_prompt: str, num_inference_steps: int, swap_steps: int,
                mask_fn: Callable[[torch.Tensor, dict], torch.Tensor | None], layout_token_index: torch.Tensor,
                inversion_refine: int = 0) -> torch.Tensor:
        """Algorithm 1 from the clean latents; `mask_fn(z_layout_now, layout maps)` gives the blend mask M."""
        dev = self._execution_device
        z_l = self.invert(layout_latents, layout_prompt, num_inference_steps, inversion_refine)
        z_r = self.invert(reference_latents, reference_prompt, num_inference_steps, inversion_refine)
        text = encode_prompts(self.tokenizer, self.text_encoder, [reference_prompt, layout_prompt, target_prompt], dev)
        state = SwapState(latent_hw=tuple(layout_latents.shape[-2:]),
                          store=AttentionStore(layout_token_index, layers=("up_blocks",)))
        self.scheduler.set_timesteps(num_inference_steps, device=dev)
        z = torch.cat([z_r, z_l, z_l.clone()])  # [reference; layout; target], target initialised with layout
        with self.model(personalized=True) as unet:
            saved = install_swap(unet, state)
            try:
                for i, t in enumerate(self.scheduler.timesteps):
                    if i == swap_steps:
                        state.mask = mask_fn(z[1:2], state.store.maps)
                        state.store = None
                    state.early = i < swap_steps
                    eps = unet(z, t, encoder_hidden_states=text).sample
                    z = self.scheduler.step(eps, t, z).prev_sample
            finally:
                unet.set_attn_processor(saved)
        return z[2:3]

    def blend_mask(self, maps: dict[str, list[torch.Tensor]], size: tuple[int, int], seg: np.ndarray | None,
                   threshold: float, min_component: int) -> torch.Tensor | None:
        """Averaged decoder cross-attention map of the subject token → M^C; adaptive blending with M^SAM → M."""
        if not maps:
            return None
        w, h = size
        acc = []
        for per_layer in maps.values():
            for m in per_layer:  # (1, N, K)
                n = m.shape[1]
                f = (h * w / n) ** 0.5
                grid = m[0].mean(-1).reshape(1, 1, round(h / f), round(w / f)).float()
                acc.append(F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False)[0, 0])
        avg = torch.stack(acc).mean(0).cpu().numpy()
        m = adaptive_blend_mask(cross_attention_mask(avg, (h, w), threshold), seg, min_component)
        return torch.from_numpy(m).float()[None].to(self._execution_device)  # (1, H, W)

    # ---- the call ----------------------------------------------------------------------------------------
    def __call__(
        self,
        prompt: str,
        canvas: Canvas,
        class_prompt: str,
        neutral_prompt: str | None = None,
        target_prompt: str | None = None,
        subject_layer: str | None = None,
        class_words: str | list[int] | None = None,
        num_inference_steps: int = 50,
        guidance_scale: float = 7.5,
        negative_prompt: str = "",
        blend_steps: int = 5,
        swap_steps: int | None = None,
        layout_image: Image.Image | None = None,
        segmenter: Callable[[Image.Image], np.ndarray] | None = None,
        mask_threshold: float = 0.5,
        min_component: int = 16,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        return_layout: bool = False,
        inversion_refine: int = 0,
    ) -> ImagePipelineOutput | tuple:
        """`prompt` is y_r (with the special token), `class_prompt` y_p (the class word instead), `neutral_prompt`
        y_n (e.g. "a photo of <*> dog"; default: the prompt). Returns the retouched image (and the layout image
        after it when `return_layout`). `inversion_refine` fixed-point iterations per DDIM inversion step remove
        the inversion's one-step lag (one more UNet call per step each)."""
        if not isinstance(canvas, Canvas):
            raise TypeError(f"canvas must be a layercraft Canvas, got {type(canvas).__name__}")
        if not 0 <= blend_steps <= num_inference_steps:
            raise ValueError(f"blend_steps (λ1) must lie in [0, {num_inference_steps}], got {blend_steps}")
        swap_steps = num_inference_steps * 2 // 5 if swap_steps is None else swap_steps
        if not 0 <= swap_steps <= num_inference_steps:
            raise ValueError(f"swap_steps (λ2) must lie in [0, {num_inference_steps}], got {swap_steps}")
        if inversion_refine < 0:
            raise ValueError(f"inversion_refine must be ≥ 0, got {inversion_refine}")
        dev, dtype = self._execution_device, self.unet.dtype
        neutral_prompt = neutral_prompt or prompt
        target_prompt = target_prompt or neutral_prompt
        subject = self._subject(canvas, subject_layer)
        size = (canvas.width, canvas.height)
        h, w = canvas.height // self.vae_scale_factor, canvas.width // self.vae_scale_factor

        if layout_image is None:
            shape = (1, self.unet.config.in_channels, h, w)
            noise = randn_tensor(shape, generator=generator, device=dev, dtype=dtype) if latents is None else latents
            z_layout = self.step_blended(class_prompt, prompt, noise.to(dev, dtype), num_inference_steps,
                                         blend_steps, guidance_scale, negative_prompt)
        else:
            z_layout = encode_images(self.vae, to_tensor([layout_image], size))
        z_ref = encode_images(self.vae, to_tensor([subject.image], size))

        words = class_words if class_words is not None else subject.words
        token_index = torch.tensor(find_subject_tokens(self.tokenizer, class_prompt, words,
                                                       (subject.category.value.replace("_", " "),)))
        layout_pil = self.image_processor.postprocess(decode_latents(self.vae, z_layout).float(), output_type="pil")[0]

        def mask_fn(_z: torch.Tensor, maps: dict) -> torch.Tensor | None:
            seg = segmenter(layout_pil) if segmenter is not None else subject.mask
            return self.blend_mask(maps, size, None if seg is None else np.asarray(seg, bool), mask_threshold,
                                   min_component)

        z = self.retouch(z_layout, z_ref, class_prompt, neutral_prompt, target_prompt, num_inference_steps,
                         swap_steps, mask_fn, token_index, inversion_refine)
        images = [z, z_layout] if return_layout else [z]
        if output_type != "latent":
            images = [self.image_processor.postprocess(decode_latents(self.vae, x).float(), output_type=output_type)
                      for x in images]
        self.maybe_free_model_hooks()
        out = images[0] if not return_layout else (images[0], images[1])
        if not return_dict:
            return (out,)
        return ImagePipelineOutput(images=out)

    @staticmethod
    def _subject(canvas: Canvas, layer_id: str | None) -> Subject:
        subjects = canvas_subjects(canvas)
        if layer_id is not None:
            subjects = [s for s in subjects if s.layer_id == layer_id]
        if not subjects:
            raise ValueError("the canvas has no placed subject layer" if layer_id is None
                             else f"no placed subject layer {layer_id!r} on the canvas")
        return subjects[-1]  # the front-most subject by default
