"""Rectified-flow (flow-matching) training objective, in FLUX's convention.

x_σ = (1 − σ)·x₀ + σ·ε, the network predicts the velocity v = ε − x₀, and sampling integrates
from σ = 1 (noise) to σ = 0 (data). Timesteps come from diffusers' density helpers.
"""

from __future__ import annotations

import torch
from diffusers.training_utils import compute_density_for_timestep_sampling

from .config import FlowConfig


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
    s = sigmas.view(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return (1 - s) * x0 + s * noise, noise - x0


def clean_estimate(x_t: torch.Tensor, sigmas: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """One-step x̂₀ = x_σ − σ·v (used by AnyPhoto's identity loss on the predicted clean image)."""
    s = sigmas.view(-1, *([1] * (x_t.dim() - 1))).to(x_t.dtype)
    return x_t - s * velocity
