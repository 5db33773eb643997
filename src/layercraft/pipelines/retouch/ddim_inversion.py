"""DDIM inversion of clean latents to noise for ε-prediction UNets (Layout-and-Retouch Algorithm 1, lines 2-3, on
the Stable Diffusion path); `refine` fixed-point iterations per step as in `denoise.flow.flow_invert`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import DDIMInverseScheduler

from ...denoise.flow import fixed_point


@torch.no_grad()
def ddim_invert(eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], latents: torch.Tensor,
                scheduler_config: dict, num_steps: int, refine: int = 0) -> list[torch.Tensor]:
    """z_0 (B, C, h, w) → [z at each inverted step], last = z_T. eps_fn(z, t) predicts the noise.

    Uses the same timesteps a `DDIMScheduler(**scheduler_config)` samples with `num_steps`, in reverse, so a
    deterministic DDIM run from z_T retraces the trajectory (up to the one-step lag of the inversion, which
    `refine` fixed-point iterations per step remove: ε is re-evaluated at the new state z_t, as the sampler will)."""
    if refine < 0:
        raise ValueError(f"refine (fixed-point iterations per inversion step) must be ≥ 0, got {refine}")
    inv = DDIMInverseScheduler.from_config(scheduler_config, set_alpha_to_one=False)
    inv.set_timesteps(num_steps, device=latents.device)
    z = latents
    path = [z]
    for t in inv.timesteps:
        nxt = inv.step(eps_fn(z, t), t, z).prev_sample
        # the step is stateless: z_t = step(ε(z_t, t), t, z_{t-1})
        z = fixed_point(lambda x, z=z, t=t: inv.step(eps_fn(x, t), t, z).prev_sample, nxt, refine)
        path.append(z)
    return path
