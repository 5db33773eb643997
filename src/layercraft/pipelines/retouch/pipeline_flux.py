"""LayoutRetouchFluxPipeline: Layout-and-Retouch (sec. 3.2, Algorithm 1) on the Flux family, from a layered canvas.

Stage 1, step-blended denoising: the vanilla model with the class prompt y_p for the first λ1 steps, the
personalized model (LoRA enabled, or `personalized_transformer`) with the special-token prompt y_r after.
Stage 2, retouch: flow-ODE inversion of the layout latent and of the reference (the subject layer's own image;
`align_reference` moves it into the layout's subject box first: `align.py`), then [reference; layout; target]
denoised as one batch by the personalized model with the attention swap of `FluxAttentionSwap` (layout Q/K/V for
the first λ2 steps, reference image K/V after) and adaptive mask blending; the cross-attention mask M^C is the
probed image→text attention of the class token on the layout path. The canvas conditions every call as in
`LayeredCanvasPipeline` (`scheme`, `switches`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from PIL import Image

from ...canvas.types import Canvas
from ...conditioning import DEFAULT_SCHEME
from ...denoise import (
    Branch,
    DenoiserInputs,
    GuidedVelocity,
    Hook,
    Switches,
    denoise,
    flow_invert,
    guidance_branches,
    velocity,
)
from ...models.flux_ext import FluxAttentionSwap, TextAttentionProbe
from ..layered_canvas import LayeredCanvasPipeline
from ..lcp.flux_common import image_latents, sequence_tokenizer
from ..lcp.subjects import Subject, canvas_subjects
from ..lcp.tokens import find_subject_tokens
from .align import aligned_reference
from .masks import adaptive_blend_mask, cross_attention_mask


def default_swap_steps(retouch_steps: int) -> int:
    """λ2 when none is given: the layout path's Q/K/V for the first 2/5 of the retouch steps."""
    return retouch_steps * 2 // 5


class LayoutRetouchFluxPipeline(LayeredCanvasPipeline):
    _optional_components = [*LayeredCanvasPipeline._optional_components, "personalized_transformer"]

    def __init__(self, scheduler: Any, vae: Any, text_encoder: Any, tokenizer: Any, transformer: Any,
                 text_encoder_2: Any = None, tokenizer_2: Any = None, max_sequence_length: int = 64,
                 personalized_transformer: Any = None):
        super().__init__(scheduler, vae, text_encoder, tokenizer, transformer, text_encoder_2, tokenizer_2,
                         max_sequence_length)
        self.register_modules(personalized_transformer=personalized_transformer)

    # ---- models --------------------------------------------------------------------------------------------
    @contextmanager
    def model(self, personalized: bool):
        """The vanilla (v_θ) or personalized (v'_θ) transformer: `personalized_transformer` when given, else the
        transformer with its LoRA adapters enabled or disabled."""
        if self.personalized_transformer is not None:
            yield self.personalized_transformer if personalized else self.transformer
            return
        has_lora = bool(getattr(self.transformer, "peft_config", None))
        if has_lora and not personalized:
            self.transformer.disable_adapters()
        try:
            yield self.transformer
        finally:
            if has_lora and not personalized:
                self.transformer.enable_adapters()

    def inputs(self, prompts: list[str], canvas: Canvas, scheme: str, switches: Switches,
               guidance_scale: float, negative: bool = False) -> DenoiserInputs:
        """Denoiser inputs for `prompts` on `canvas`; `negative` adds the empty-prompt branch for true CFG."""
        return self.build_inputs(prompts, [canvas] * len(prompts), scheme, switches,
                                 [""] * len(prompts) if negative else None, None, guidance_scale)

    # ---- stage 1 -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def step_blended(self, class_prompt: str, prompt: str, canvas: Canvas, noise: torch.Tensor,
                     num_inference_steps: int, blend_steps: int, scheme: str = DEFAULT_SCHEME,
                     switches: Switches | None = None, guidance_scale: float = 3.5,
                     true_cfg_scale: float = 1.0) -> torch.Tensor:
        """Packed noise (1, L, C·4) → layout latent: v_θ(z, y_p) for the first λ1 = `blend_steps` steps,
        v'_θ(z, y_r) after; with `true_cfg_scale` > 1 each model is guided against its own empty-prompt branch."""
        sw = switches or Switches()
        cfg = true_cfg_scale > 1.0
        y_p, y_r = (self.inputs([p], canvas, scheme, sw, guidance_scale, cfg) for p in (class_prompt, prompt))
        sigmas = self.sampling_sigmas(num_inference_steps, y_p.n_noisy)
        z = noise
        for inputs, personalized, grid in ((y_p, False, sigmas[: blend_steps + 1]), (y_r, True, sigmas[blend_steps:])):
            if len(grid) < 2:
                continue
            with self.model(personalized) as model:
                z = denoise(model, GuidedVelocity(guidance_branches(inputs, true_cfg_scale)), z, grid)
        return z

    # ---- stage 2 -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def invert(self, latents: torch.Tensor, prompt: str, canvas: Canvas, num_inference_steps: int,
               scheme: str = DEFAULT_SCHEME, switches: Switches | None = None,
               guidance_scale: float = 3.5, refine: int = 0) -> torch.Tensor:
        """Flow-ODE inversion of clean packed latents (B, L, C·4) to σ = 1 with the personalized model;
        `refine` fixed-point iterations per step (`denoise.flow.flow_invert`)."""
        inputs = self.inputs([prompt] * latents.shape[0], canvas, scheme, switches or Switches(), guidance_scale)
        sigmas = self.sampling_sigmas(num_inference_steps, inputs.n_noisy)[:-1]
        cond = inputs.conditioning()
        with self.model(personalized=True) as model:
            return flow_invert(lambda z, s: velocity(model, inputs, z, s.to(z.dtype), cond), latents, sigmas,
                               refine)[-1]

    def regenerate(self, noise: torch.Tensor, prompt: str, canvas: Canvas, num_inference_steps: int,
                   scheme: str = DEFAULT_SCHEME, switches: Switches | None = None,
                   guidance_scale: float = 3.5) -> torch.Tensor:
        """The sampler `invert` is the inverse of: packed noise at σ = 1 (1, L, C·4) → clean, personalized model,
        unguided (as Algorithm 1's paths run) — step blending with λ1 = 0."""
        return self.step_blended(prompt, prompt, canvas, noise, num_inference_steps, 0, scheme, switches,
                                 guidance_scale)

    @torch.no_grad()
    def retouch(self, layout_latents: torch.Tensor, reference_latents: torch.Tensor | None, layout_prompt: str,
                reference_prompt: str, target_prompt: str, canvas: Canvas, num_inference_steps: int, swap_steps: int,
                mask_fn: Callable[[list[torch.Tensor]], torch.Tensor | None], layout_token_index: torch.Tensor,
                scheme: str = DEFAULT_SCHEME, switches: Switches | None = None,
                guidance_scale: float = 3.5, inversion_refine: int = 0,
                reference_noise: torch.Tensor | None = None) -> torch.Tensor:
        """Algorithm 1 from clean packed latents (1, L, C·4) → final [reference; layout; target] (3, L, C·4).
        `mask_fn(layout maps)` turns the probed layout-path maps [(1, L, K)] into the blend mask M (1, L).
        `reference_noise`: the reference already inverted (same prompt, canvas, steps, refine), used as is."""
        sw = switches or Switches()
        z_l = self.invert(layout_latents, layout_prompt, canvas, num_inference_steps, scheme, sw, guidance_scale,
                          inversion_refine)
        z_r = reference_noise if reference_noise is not None else self.invert(
            reference_latents, reference_prompt, canvas, num_inference_steps, scheme, sw, guidance_scale,
            inversion_refine)
        inputs = self.inputs([reference_prompt, layout_prompt, target_prompt], canvas, scheme, sw, guidance_scale)
        t, n = inputs.text.shape[1], inputs.n_noisy
        swap = FluxAttentionSwap(t, n)
        probe = TextAttentionProbe(layout_token_index, t, n, batch_rows=slice(1, 2))
        sigmas = self.sampling_sigmas(num_inference_steps, n)
        z = torch.cat([z_r, z_l, z_l.clone()])  # the target starts from the inverted layout
        with self.model(personalized=True) as model:
            return denoise(model, GuidedVelocity([Branch(inputs)]), z, sigmas,
                           [_SwapSchedule(swap, probe, swap_steps, mask_fn)])

    @torch.no_grad()
    def invert_reference(self, prompt: str, canvas: Canvas, subject_layer: str | None = None,
                         num_inference_steps: int = 28, scheme: str = DEFAULT_SCHEME, switches: Switches | None = None,
                         guidance_scale: float = 3.5, inversion_refine: int = 0,
                         canvas_tokens: bool = True) -> torch.Tensor:
        """The subject layer's own image inverted as the retouch inverts it (`prompt` = the call's neutral prompt
        y_n; `num_inference_steps` = its retouch steps) → packed noise (1, L, C·4). It depends on neither the seed
        nor the layout, so several calls on the same subject can share it (`__call__(reference_noise=...)`)."""
        subject = self._subject(canvas, subject_layer)
        cond = self._conditioning_canvas(canvas, canvas_tokens)
        z_ref = image_latents(self, [subject.image], (canvas.width, canvas.height))
        return self.invert(z_ref, prompt, cond, num_inference_steps, scheme, switches or Switches(), guidance_scale,
                           inversion_refine)

    def blend_mask(self, maps: list[torch.Tensor], grid: tuple[int, int], size: tuple[int, int],
                   seg: np.ndarray | None, threshold: float, min_component: int) -> torch.Tensor | None:
        """Probed maps [(1, L, K)] → averaged M^C at canvas size (W, H) → adaptive blend with M^SAM → M on the
        token grid (1, L)."""
        if not maps:
            return None
        w, h = size
        avg = torch.stack(maps).mean(0)[0].mean(-1).reshape(grid).float()  # (h_tok, w_tok)
        m = adaptive_blend_mask(cross_attention_mask(avg.cpu().numpy(), (h, w), threshold), seg, min_component)
        tok = F.adaptive_avg_pool2d(torch.from_numpy(m).float()[None, None], grid)  # (1, 1, h_tok, w_tok)
        return tok.flatten(1).to(self._execution_device)  # (1, L)

    # ---- the call ------------------------------------------------------------------------------------------
    def __call__(
        self,
        prompt: str,
        canvas: Canvas,
        class_prompt: str,
        neutral_prompt: str | None = None,
        target_prompt: str | None = None,
        subject_layer: str | None = None,
        class_words: str | list[int] | None = None,
        scheme: str = DEFAULT_SCHEME,
        switches: Switches | None = None,
        num_inference_steps: int = 28,
        guidance_scale: float = 3.5,
        true_cfg_scale: float = 1.0,
        blend_steps: int = 3,
        swap_steps: int | None = None,
        retouch_steps: int | None = None,
        layout_image: Image.Image | None = None,
        segmenter: Callable[[Image.Image], np.ndarray] | None = None,
        mask_threshold: float = 0.5,
        min_component: int = 16,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        return_layout: bool = False,
        canvas_tokens: bool = True,
        align_reference: bool = False,
        inversion_refine: int = 0,
        reference_noise: torch.Tensor | None = None,
    ) -> ImagePipelineOutput | tuple:
        """`prompt` is y_r (special token), `class_prompt` y_p (the class word), `neutral_prompt` y_n (default: the
        prompt), `target_prompt` the target path's prompt (default y_n). Returns the retouched image (and the
        layout image when `return_layout`). `true_cfg_scale` guides the layout stage; the retouch paths run
        unguided, as Algorithm 1. `canvas_tokens=False` conditions every path on the prompt alone (a personalized
        text-to-image model, as in the paper); the canvas then only supplies the subject's reference image.
        `align_reference` moves the reference subject into the layout's subject box (M^SAM, or the layer's own
        mask) before inversion (`align.py`: RoPE makes Flux attention position-biased); `segmenter` then finds the
        subject in the reference image too. `retouch_steps` (default `num_inference_steps`) sets the inversion and
        retouch steps apart from the layout stage's: the flow inversion's error falls with more steps, and with
        `inversion_refine` fixed-point iterations per inversion step (exact inversion once converged; each costs one
        more model call per step). `reference_noise` (from `invert_reference` with this call's neutral prompt, canvas,
        retouch steps, refine and `canvas_tokens`) skips the reference's inversion: one inversion saved per call."""
        if not isinstance(canvas, Canvas):
            raise TypeError(f"canvas must be a layercraft Canvas, got {type(canvas).__name__}")
        if not 0 <= blend_steps <= num_inference_steps:
            raise ValueError(f"blend_steps (λ1) must lie in [0, {num_inference_steps}], got {blend_steps}")
        retouch_steps = num_inference_steps if retouch_steps is None else retouch_steps
        if retouch_steps < 1:
            raise ValueError(f"retouch_steps must be ≥ 1, got {retouch_steps}")
        if inversion_refine < 0:
            raise ValueError(f"inversion_refine must be ≥ 0, got {inversion_refine}")
        if align_reference and reference_noise is not None:
            raise ValueError("reference_noise cannot be reused with align_reference: the aligned reference depends "
                             "on each layout")
        swap_steps = default_swap_steps(retouch_steps) if swap_steps is None else swap_steps
        if not 0 <= swap_steps <= retouch_steps:
            raise ValueError(f"swap_steps (λ2) must lie in [0, {retouch_steps}], got {swap_steps}")
        sw = switches or Switches()
        neutral_prompt = neutral_prompt or prompt
        target_prompt = target_prompt or neutral_prompt
        subject = self._subject(canvas, subject_layer)
        size = (canvas.width, canvas.height)
        grid = (canvas.height // self.stride, canvas.width // self.stride)
        dev, dtype = self._execution_device, self.transformer.dtype
        cond = self._conditioning_canvas(canvas, canvas_tokens)

        if layout_image is None:
            if latents is None:
                latents = self.initial_noise(1, grid, generator)
            z_layout = self.step_blended(class_prompt, prompt, cond, latents.to(dev, dtype), num_inference_steps,
                                         blend_steps, scheme, sw, guidance_scale, true_cfg_scale)
        else:
            z_layout = image_latents(self, [layout_image], size)
        words = class_words if class_words is not None else subject.words
        token_index = torch.tensor(find_subject_tokens(sequence_tokenizer(self), class_prompt, words,
                                                       (subject.category.value.replace("_", " "),),
                                                       self.config.max_sequence_length))
        layout_pil = self.decode(z_layout, grid, "pil")[0]
        seg = segmenter(layout_pil) if segmenter is not None else subject.mask  # M^SAM (H, W)
        seg = None if seg is None else np.asarray(seg, bool)
        reference = subject.image
        if align_reference and seg is not None:
            ref_mask = np.asarray(segmenter(subject.image), bool) if segmenter is not None else subject.own_mask
            moved = aligned_reference(subject.image, ref_mask, layout_pil, seg)
            reference = reference if moved is None else moved
        if reference_noise is None and reference is subject.image:
            reference_noise = self.invert_reference(neutral_prompt, canvas, subject.layer_id, retouch_steps, scheme,
                                                    sw, guidance_scale, inversion_refine, canvas_tokens)
        z_ref = None if reference_noise is not None else image_latents(self, [reference], size)

        def mask_fn(maps: list[torch.Tensor]) -> torch.Tensor | None:
            return self.blend_mask(maps, grid, size, seg, mask_threshold, min_component)

        z = self.retouch(z_layout, z_ref, class_prompt, neutral_prompt, target_prompt, cond, retouch_steps,
                         swap_steps, mask_fn, token_index, scheme, sw, guidance_scale, inversion_refine,
                         reference_noise)[2:3]
        images = [self.decode(x, grid, output_type) for x in ([z, z_layout] if return_layout else [z])]
        self.maybe_free_model_hooks()
        out = (images[0], images[1]) if return_layout else images[0]
        return ImagePipelineOutput(images=out) if return_dict else (out,)

    @staticmethod
    def _conditioning_canvas(canvas: Canvas, canvas_tokens: bool) -> Canvas:
        """What conditions every path: the canvas, or with `canvas_tokens=False` its prompt alone."""
        return canvas if canvas_tokens else Canvas(width=canvas.width, height=canvas.height, prompt=canvas.prompt)

    @staticmethod
    def _subject(canvas: Canvas, layer_id: str | None) -> Subject:
        subjects = canvas_subjects(canvas)
        if layer_id is not None:
            subjects = [s for s in subjects if s.layer_id == layer_id]
        if not subjects:
            raise ValueError("the canvas has no placed subject layer" if layer_id is None
                             else f"no placed subject layer {layer_id!r} on the canvas")
        return subjects[-1]


class _SwapSchedule(Hook):
    """Algorithm 1's attention swap: the layout path's Q/K/V (and the class-token probe) for the first λ2 steps;
    at step λ2 the probed maps become the blend mask, and the reference image's K/V are used after."""

    def __init__(self, swap: FluxAttentionSwap, probe: TextAttentionProbe, swap_steps: int,
                 mask_fn: Callable[[list[torch.Tensor]], torch.Tensor | None]):
        self.swap, self.probe, self.swap_steps, self.mask_fn = swap, probe, swap_steps, mask_fn

    def before_step(self, i: int, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if i == self.swap_steps:
            self.swap.mask = self.mask_fn(self.probe.maps)
        self.swap.early = i < self.swap_steps
        return x

    def attention_kwargs(self, i: int) -> dict:
        return {"swap": self.swap, **({"probe": self.probe} if self.swap.early else {})}
