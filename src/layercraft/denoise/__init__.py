"""The denoising core under pipelines and training: model-free inputs, the flow path, guidance, the loop.

- `switches`: the mechanism switches, declared once;
- `inputs`: `build_inputs(encoders, prompts, canvases, scheme, switches)` → `DenoiserInputs` (tensors only)
  and `velocity(model, inputs, x, σ, cond)`;
- `flow`: x_σ, v ↔ x̂₀, FLUX's shifted σ grid, the Euler step, inversion;
- `guidance`: text / canvas guidance branches, batched into one call where they share inputs;
- `loop`: `denoise(model, velocity, latents, sigmas, hooks)`.
"""

from .flow import clean_estimate, euler_step, flow_invert, flux_sigmas, noisy, velocity_target
from .guidance import Branch, GuidedVelocity, combine, guidance_branches
from .inputs import CanvasConditions, DenoiserInputs, Encoders, build_inputs, velocity
from .loop import Hook, denoise
from .switches import Switches

__all__ = ["Branch", "CanvasConditions", "DenoiserInputs", "Encoders", "GuidedVelocity", "Hook", "Switches",
           "build_inputs", "clean_estimate", "combine", "denoise", "euler_step", "flow_invert", "flux_sigmas",
           "guidance_branches", "noisy", "velocity", "velocity_target"]
