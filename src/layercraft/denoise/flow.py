"""The rectified-flow probability path, in FLUX's convention, and everything that walks along it.

x_σ = (1 − σ)·x₀ + σ·ε; the model predicts the velocity v = ε − x₀; sampling integrates dx/dσ = v
from σ = 1 (noise) down to σ = 0 (data) on FLUX's resolution-shifted σ grid; inversion integrates
back up. Training's objective (`training.flow_matching`), every Flux pipeline's sampler and the
retouch inversion all use these functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from diffusers.pipelines.flux.pipeline_flux import calculate_shift, retrieve_timesteps


def noisy(x0: torch.Tensor, sigmas: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_σ = (1 − σ)·x₀ + σ·ε; sigmas (B,) broadcast over the trailing dims of x0 (B, ...)."""
    s = _per_sample(sigmas, x0)
    return (1 - s) * x0 + s * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The velocity the model learns: v = ε − x₀."""
    return noise - x0


def clean_estimate(x_t: torch.Tensor, sigmas: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """One-step x̂₀ = x_σ − σ·v."""
    return x_t - _per_sample(sigmas, x_t) * velocity


def velocity_from_clean(x_t: torch.Tensor, sigmas: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """v = (x_σ − x̂₀) / σ (σ > 0): the inverse of `clean_estimate`."""
    return (x_t - x0) / _per_sample(sigmas, x_t)


def flux_sigmas(scheduler, num_steps: int, n_noisy: int, device: torch.device | str = "cpu",
                sigmas: list[float] | None = None) -> torch.Tensor:
    """FLUX's sampling grid for `num_steps` on an image of `n_noisy` tokens → (num_steps + 1,) float32, last = 0.

    The linear grid 1 … 1/N (or the given `sigmas`, N values descending in (0, 1]) is shifted by μ(n_noisy)
    (`calculate_shift`) through the flow-matching scheduler, as FLUX's pipelines do."""
    if sigmas is None:
        sigmas = np.linspace(1.0, 1 / num_steps, num_steps)
    grid = np.asarray(sigmas, dtype=np.float64)
    if grid.shape != (num_steps,) or not np.all(np.isfinite(grid)) or not np.all((grid > 0) & (grid <= 1)) \
            or np.any(np.diff(grid) >= 0):
        raise ValueError(f"sigmas must be {num_steps} descending values in (0, 1], got {list(sigmas)!r}")
    sc = scheduler.config
    mu = calculate_shift(n_noisy, sc.get("base_image_seq_len", 256), sc.get("max_image_seq_len", 4096),
                         sc.get("base_shift", 0.5), sc.get("max_shift", 1.15))
    retrieve_timesteps(scheduler, num_steps, device, sigmas=grid, mu=mu)
    return scheduler.sigmas.to(device, torch.float32)


def euler_step(x: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor | float,
               sigma_next: torch.Tensor | float) -> torch.Tensor:
    """One flow-matching Euler step x ← x + (σ_{i+1} − σ_i)·v, in float32, as FlowMatchEulerDiscreteScheduler."""
    return (x.float() + (sigma_next - sigma) * v.float()).to(x.dtype)


def fixed_point(update: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, refine: int) -> torch.Tensor:
    """x ← update(x) `refine` times, guarded per sample: an iterate whose residual ‖update(x) − x‖ is not below its
    predecessor's (the iteration diverges, as on coarse step grids) is dropped for the predecessor, and that sample
    stops."""
    if refine < 0:
        raise ValueError(f"refine (fixed-point iterations per inversion step) must be ≥ 0, got {refine}")
    active = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    prev_x, prev_res = x, None
    for _ in range(refine):
        nxt = update(x)
        res = (nxt - x).flatten(1).float().norm(dim=1)  # (B,) residual of the current iterate
        if prev_res is not None:
            worse = active & (res >= prev_res)
            x = torch.where(worse.view(-1, *[1] * (x.dim() - 1)), prev_x, x)
            active &= ~worse
            if not active.any():
                break
        prev_x, prev_res = x, res
        x = torch.where(active.view(-1, *[1] * (x.dim() - 1)), nxt, x)
    return x


@torch.no_grad()
def flow_invert(velocity_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], latents: torch.Tensor,
                sigmas: torch.Tensor, refine: int = 0) -> list[torch.Tensor]:
    """Rectified-flow inversion: integrate dx/dσ = v(x, σ) from σ = 0 up the sampling grid `sigmas` (descending, as
    the sampler uses them, ending above 0). Returns the states at sigmas reversed (last = x at sigmas[0]).

    The plain inversion (`refine` = 0) takes each step's velocity at its start, x(σ_{i+1}), where the sampler that
    retraces the path takes it at x(σ_i): they disagree by one step's change of the model's output. `refine` > 0
    solves each step's implicit equation x_i = x_{i+1} + (σ_i − σ_{i+1})·v(x_i, σ_i) by that many fixed-point
    iterations (as ReNoise / fixed-point inversion), at `refine` more model calls per step; converged, the sampler
    retraces the inversion exactly."""
    if refine < 0:
        raise ValueError(f"refine (fixed-point iterations per inversion step) must be ≥ 0, got {refine}")
    z = latents
    path = [z]
    prev = torch.zeros((), dtype=sigmas.dtype, device=sigmas.device)
    for s in sigmas.flip(0):  # ascending σ_{n-1} .. σ_0
        nxt = z + (s - prev) * velocity_fn(z, prev)
        z = fixed_point(lambda x, z=z, s=s, prev=prev: z + (s - prev) * velocity_fn(x, s), nxt, refine)
        prev = s
        path.append(z)
    return path


def _per_sample(sigmas: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return sigmas.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)
