"""The flow-matching training objective: noise levels drawn from diffusers' density helpers, FLUX-shifted.

The path itself (x_σ, the velocity target, x̂₀) is `denoise.flow`, shared with the samplers.
"""

from __future__ import annotations

import torch
from diffusers.training_utils import compute_density_for_timestep_sampling

from ..denoise.flow import clean_estimate, noisy, velocity_target
from .config import FlowConfig

__all__ = ["clean_estimate", "noisy_and_target", "sample_sigmas", "shift_sigmas"]


def sample_sigmas(cfg: FlowConfig, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B,) noise levels σ in (0, 1)."""
    u = compute_density_for_timestep_sampling(
        cfg.weighting_scheme, batch, logit_mean=cfg.logit_mean, logit_std=cfg.logit_std,
        mode_scale=cfg.mode_scale, generator=generator,
    )
    return shift_sigmas(u.clamp(1e-4, 1 - 1e-4), cfg.shift)


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def noisy_and_target(x0: torch.Tensor, sigmas: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x0, noise: (B, ...); sigmas: (B,) → (x_σ, velocity target), both shaped like x0."""
    return noisy(x0, sigmas, noise), velocity_target(x0, noise)
