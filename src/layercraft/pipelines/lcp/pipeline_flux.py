"""LcpFluxPipeline: LCP-Diffusion (Fig. 2) on the Flux family (`LayercraftFluxTransformer`), from a layered canvas.

The canvas conditions the transformer exactly as in `LayeredCanvasPipeline` (any scheme, through
`prepare_inputs` / `DenoiserInputs.velocity`); on top of that:
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
from diffusers.utils.torch_utils import randn_tensor

from ...canvas.types import Canvas
from ...conditioning import pack
from ...models.flux_ext.probe import TextAttentionProbe
from ...models.lcp.regulation import regulate, step_size
from ..inputs import DenoiserInputs, Switches, prepare_inputs
from ..layered_canvas import LayeredCanvasPipeline
from .flux_common import decode, euler_step, flow_sigmas, probe_box_loss, subject_token_index
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

    def regulated(self, inputs: DenoiserInputs, cond: Any, latents: torch.Tensor, sigma: torch.Tensor,
                  token_index: torch.Tensor, boxes: torch.Tensor, grid: tuple[int, int], alpha: float, eta: float,
                  iterations: int, scale_weight: float, kwargs: dict[str, Any]) -> torch.Tensor:
        """eq. 8 on packed flow latents (B, L, C·4): z ← z − α_t η ∇_z (L_pos + L_scale)."""
        probe = TextAttentionProbe(token_index, inputs.text.shape[1], inputs.n_noisy, keep_grad=True)
        reg_cond = dataclasses.replace(cond, kv_cache=None)  # the graph must not go through cached keys

        def loss_fn(z: torch.Tensor) -> torch.Tensor:
            probe.clear()
            inputs.velocity(z, sigma, reg_cond, joint_attention_kwargs={**kwargs, "probe": probe})
            return probe_box_loss(probe, boxes, grid, scale_weight)

        return regulate(latents, loss_fn, alpha, eta, iterations)

    # ---- the call ------------------------------------------------------------------------------------------
    def __call__(
        self,
        prompt: str,
        canvas: Canvas,
        scheme: str = "layercomposer",
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
        self.check_inputs([prompt], [canvas], scheme, num_inference_steps, guidance_scale, true_cfg_scale, None,
                          None, [negative_prompt] if do_cfg else None, identity_embeds, sw.modulation, sw.dam,
                          sw.cache, output_type)
        cond_canvas = canvas if canvas_tokens else Canvas(width=canvas.width, height=canvas.height, prompt=prompt)
        inputs = prepare_inputs(self, [prompt], [cond_canvas], scheme, sw, [negative_prompt] if do_cfg else None,
                                identity_embeds, guidance_scale)
        grid = (canvas.height // self.stride, canvas.width // self.stride)
        dev, dtype = self._execution_device, self.transformer.dtype
        cond, cond_neg = inputs.conditioning(), inputs.conditioning() if do_cfg else None
        subjects = canvas_subjects(canvas)
        kwargs = self.lcp_kwargs(subjects, (canvas.width, canvas.height), inputs.n_noisy, static_scale, ip_scale,
                                 grounding_scale)
        regulate_on = regulation and bool(subjects) and regulation_steps > 0 and regulation_scale > 0
        token_index = subject_token_index(self, prompt, subjects, subject_tokens) if regulate_on else None
        boxes = torch.tensor([s.box for s in subjects], device=dev) if subjects else None

        if latents is None:
            noise = randn_tensor((1, self.latent_channels, grid[0] * 2, grid[1] * 2), generator=generator,
                                 device=dev, dtype=dtype)
            latents = pack(noise[0])[None]  # (1, L, C·4)
        latents = latents.to(dev, dtype)
        sigmas = flow_sigmas(self, num_inference_steps, inputs.n_noisy)
        with self.progress_bar(total=num_inference_steps) as bar:
            for i in range(num_inference_steps):
                s = sigmas[i].to(dtype)
                if regulate_on and i < regulation_steps:
                    latents = self.regulated(inputs, cond, latents, s, token_index, boxes, grid,
                                             step_size(i, regulation_steps, step_size_base), regulation_scale,
                                             regulation_iterations, scale_loss_weight, kwargs)
                with torch.no_grad():
                    v = inputs.velocity(latents, s, cond, joint_attention_kwargs=kwargs)
                    if do_cfg:
                        v_neg = inputs.velocity(latents, s, cond_neg, negative=True, joint_attention_kwargs=kwargs)
                        v = v_neg + true_cfg_scale * (v - v_neg)
                latents = euler_step(latents, v, sigmas[i], sigmas[i + 1])
                if callback_on_step_end is not None:
                    latents = callback_on_step_end(self, i, sigmas[i], {"latents": latents}).get("latents", latents)
                bar.update()

        images = decode(self, latents, grid, output_type)
        self.maybe_free_model_hooks()
        return ImagePipelineOutput(images=images) if return_dict else (images,)
