"""The denoising core under pipelines and training: model-free inputs, the flow path, guidance, the loop.

- `switches`: the mechanism switches, declared once;
- `inputs`: `build_inputs(encoders, prompts, canvases, scheme, switches)` → `DenoiserInputs` (tensors only)
  and `velocity(model, inputs, x, σ, cond)`;
- `flow`: x_σ, v ↔ x̂₀, FLUX's shifted σ grid, the Euler step, inversion;
- `guidance`: text / canvas guidance branches, batched into one call where they share inputs;
- `loop`: `denoise(model, velocity, latents, sigmas, hooks)`.
"""

from ..lazy import exports, lazy_exports

_WHERE = exports(
    flow="clean_estimate euler_step flow_invert flux_sigmas noisy velocity_target",
    guidance="Branch GuidedVelocity combine guidance_branches",
    inputs="CanvasConditions DenoiserInputs Encoders build_inputs velocity",
    loop="Hook denoise",
    switches="Switches",
)
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
