"""LcpFluxPipeline: LCP-Diffusion (Fig. 2) on the Flux family (`LayercraftFluxTransformer`), from a layered canvas.

The canvas conditions the transformer exactly as in `LayeredCanvasPipeline` (any scheme, through
`denoise.build_inputs` and the one sampling loop); on top of that:
- box-constrained cross-attention regulation (eq. 5-8) on the flow latents, using the probed image-query →
  text-key attention of each subject's token (needs no training, works on any model);
- with an `lcp_adapter` (`LcpFluxAdapter`), static (eq. 9) and grounding (eq. 4, 10) attention, and with an
  `image_encoder` (CLIP vision) too, dynamic attention (eq. 11) on DA-Encoder features.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput

from ...canvas.types import Canvas
from ...conditioning import DEFAULT_SCHEME
from ...denoise import DenoiserInputs, GuidedVelocity, Hook, Switches, denoise, guidance_branches, velocity
from ...models.flux_ext.probe import TextAttentionProbe
from ...models.lcp.regulation import regulate, step_size
from ..layered_canvas import LayeredCanvasPipeline, StepCallback
from .flux_common import probe_box_loss, subject_token_index
from .flux_state import subject_state
from .subjects import Subject, canvas_subjects


class LcpFluxPipeline(LayeredCanvasPipeline):
    _optional_components = [*LayeredCanvasPipeline._optional_components, "lcp_adapter", "image_encoder"]

    def __init__(self, scheduler: Any, vae: Any, text_encoder: Any, tokenizer: Any, transformer: Any,
                 text_encoder_2: Any = None, tokenizer_2: Any = None, max_sequence_length: int = 64,
                 lcp_adapter: Any = None, image_encoder: Any = None):
        super().__init__(scheduler, vae, text_encoder, tokenizer, transformer, text_encoder_2, tokenizer_2,
                         max_sequence_length)
        self.register_modules(lcp_adapter=lcp_adapter, image_encoder=image_encoder)

    # ---- LCP conditioning ----------------------------------------------------------------------------------
    def lcp_kwargs(self, subjects: list[Subject], size: tuple[int, int], n_noisy: int, static_scale: float,
                   ip_scale: float, grounding_scale: float) -> dict[str, Any]:
        """joint_attention_kwargs carrying the adapter's dynamic / static / grounding terms ({} without adapter)."""
        if self.lcp_adapter is None or not subjects:
            return {}
        with torch.no_grad():
            state = subject_state(self, self.lcp_adapter, subjects, size, n_noisy, static_scale, ip_scale,
                                  grounding_scale)
        return self.lcp_adapter.attention_kwargs(self.transformer, state)

    def regulated(self, inputs: DenoiserInputs, latents: torch.Tensor, sigma: torch.Tensor,
                  token_index: torch.Tensor, boxes: torch.Tensor, grid: tuple[int, int], alpha: float, eta: float,
                  iterations: int, scale_weight: float, kwargs: dict[str, Any]) -> torch.Tensor:
        """eq. 8 on packed flow latents (B, L, C·4): z ← z − α_t η ∇_z (L_pos + L_scale)."""
        probe = TextAttentionProbe(token_index, inputs.text.shape[1], inputs.n_noisy, keep_grad=True)
        reg_cond = dataclasses.replace(inputs.conditioning(), kv_cache=None)  # no graph through cached keys

        def loss_fn(z: torch.Tensor) -> torch.Tensor:
            probe.clear()
            velocity(self.transformer, inputs, z, sigma, reg_cond, joint_attention_kwargs={**kwargs, "probe": probe})
            return probe_box_loss(probe, boxes, grid, scale_weight)

        return regulate(latents, loss_fn, alpha, eta, iterations)

    # ---- the call ------------------------------------------------------------------------------------------
    def __call__(
        self,
        prompt: str,
        canvas: Canvas,
        scheme: str = DEFAULT_SCHEME,
        num_inference_steps: int = 28,
        guidance_scale: float = 3.5,
        true_cfg_scale: float = 1.0,
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
        switches: Switches | None = None,
        identity_embeds: list[dict[str, torch.Tensor]] | None = None,
        canvas_tokens: bool = True,
        callback_on_step_end: Callable[[Any, int, torch.Tensor, dict], dict] | None = None,
    ) -> ImagePipelineOutput | tuple:
        """`prompt` names each subject (its layer descriptor, else its category; override with `subject_tokens`
        = {layer_id: words or [text positions]}); regulation runs for the first `regulation_steps` steps with
        η = `regulation_scale` and α_t decaying linearly from `step_size_base`. `canvas_tokens=False` conditions the
        transformer on text only (the path the LCP adapter is trained on): the canvas then gives only the subjects
        (boxes, images, masks)."""
        sw = switches or Switches()
        do_cfg = true_cfg_scale > 1.0
        self.check_inputs(prompts=[prompt], canvases=[canvas], scheme=scheme, num_inference_steps=num_inference_steps,
                          guidance_scale=guidance_scale, true_cfg_scale=true_cfg_scale, height=None, width=None,
                          negative=[negative_prompt] if do_cfg else None, identity_embeds=identity_embeds,
                          switches=sw, output_type=output_type)
        cond_canvas = canvas if canvas_tokens else Canvas(width=canvas.width, height=canvas.height, prompt=prompt)
        inputs = self.build_inputs([prompt], [cond_canvas], scheme, sw, [negative_prompt] if do_cfg else None,
                                   identity_embeds, guidance_scale)
        grid = (canvas.height // self.stride, canvas.width // self.stride)
        subjects = canvas_subjects(canvas)
        kwargs = self.lcp_kwargs(subjects, (canvas.width, canvas.height), inputs.n_noisy, static_scale, ip_scale,
                                 grounding_scale)
        hooks: list[Hook] = []
        if regulation and bool(subjects) and regulation_steps > 0 and regulation_scale > 0:
            hooks.append(_Regulation(self, inputs, subject_token_index(self, prompt, subjects, subject_tokens),
                                     torch.tensor([s.box for s in subjects], device=self._execution_device), grid,
                                     regulation_steps, step_size_base, regulation_scale, regulation_iterations,
                                     scale_loss_weight, kwargs))

        if latents is None:
            latents = self.initial_noise(1, grid, generator)  # (1, L, C·4)
        latents = latents.to(self._execution_device, self.transformer.dtype)
        sigmas = self.sampling_sigmas(num_inference_steps, inputs.n_noisy)
        if callback_on_step_end is not None:
            hooks.append(StepCallback(self, callback_on_step_end, ["latents"], sigmas))
        guided = GuidedVelocity(guidance_branches(inputs, true_cfg_scale))
        with self.progress_bar(total=num_inference_steps) as bar:
            latents = denoise(self.transformer, guided, latents, sigmas, hooks, kwargs, bar.update)

        images = self.decode(latents, grid, output_type)
        self.maybe_free_model_hooks()
        return ImagePipelineOutput(images=images) if return_dict else (images,)


class _Regulation(Hook):
    """Box-constrained regulation (eq. 8) before each of the first `steps` steps, α_t decaying linearly."""

    def __init__(self, pipe: LcpFluxPipeline, inputs: DenoiserInputs, token_index: torch.Tensor, boxes: torch.Tensor,
                 grid: tuple[int, int], steps: int, base: float, eta: float, iterations: int, scale_weight: float,
                 kwargs: dict[str, Any]):
        self.pipe, self.inputs, self.token_index, self.boxes, self.grid = pipe, inputs, token_index, boxes, grid
        self.steps, self.base, self.eta, self.iterations = steps, base, eta, iterations
        self.scale_weight, self.kwargs = scale_weight, kwargs

    def before_step(self, i: int, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if i >= self.steps:
            return x
        return self.pipe.regulated(self.inputs, x, sigma, self.token_index, self.boxes, self.grid,
                                   step_size(i, self.steps, self.base), self.eta, self.iterations, self.scale_weight,
                                   self.kwargs)
