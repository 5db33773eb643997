"""Inversion of clean latents to noise: DDIM inversion for ε-prediction UNets, the reversed Euler flow ODE for
flow-matching models (Layout-and-Retouch Algorithm 1, lines 2-3)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import DDIMInverseScheduler


@torch.no_grad()
def ddim_invert(eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], latents: torch.Tensor,
                scheduler_config: dict, num_steps: int) -> list[torch.Tensor]:
    """z_0 (B, C, h, w) → [z at each inverted step], last = z_T. eps_fn(z, t) predicts the noise.

    Uses the same timesteps a `DDIMScheduler(**scheduler_config)` samples with `num_steps`, in reverse, so a
    deterministic DDIM run from z_T retraces the trajectory (up to the one-step lag of the inversion)."""
    inv = DDIMInverseScheduler.from_config(scheduler_config, set_alpha_to_one=False)
    inv.set_timesteps(num_steps, device=latents.device)
    z = latents
    path = [z]
    for t in inv.timesteps:
        z = inv.step(eps_fn(z, t), t, z).prev_sample
        path.append(z)
    return path


@torch.no_grad()
def flow_invert(velocity_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], latents: torch.Tensor,
                sigmas: torch.Tensor) -> list[torch.Tensor]:
    """Rectified-flow inversion: integrate dx/dσ = v(x, σ) from σ = 0 up the sampling grid `sigmas`
    (descending, as the sampler uses them, ending above 0). Returns the states at sigmas reversed (last = x at
    sigmas[0]). Sampling x ← x + (σ_{i+1} − σ_i) v(x, σ_i) from there retraces the path."""
    grid = sigmas.flip(0)  # ascending σ_{n-1} .. σ_0
    z = latents
    path = [z]
    prev = torch.zeros((), dtype=sigmas.dtype, device=sigmas.device)
    for s in grid:
        z = z + (s - prev) * velocity_fn(z, prev)
        prev = s
        path.append(z)
    return path
