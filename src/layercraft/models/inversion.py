"""Inversion of clean latents to noise: DDIM inversion for ε-prediction UNets, the reversed Euler flow ODE for
flow-matching models (Layout-and-Retouch Algorithm 1, lines 2-3).

The plain inversion evaluates the model at the state it starts each step from (the lower-noise end), while the
sampler that later retraces the path evaluates it at the higher-noise end: the two disagree by one step's change
of the model's output, and on a trained model the error compounds (measured: `scripts/bench_inversion.py`).
`refine` > 0 solves each step's implicit equation — find the higher-noise state whose sampler step lands on the
lower-noise one — by that many fixed-point iterations (as in ReNoise / fixed-point inversion), at `refine` more
model calls per step; converged, the sampler retraces the inversion exactly. Where the iteration diverges (steps
too coarse for the model's Lipschitz constant) each sample keeps its last improving iterate.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import DDIMInverseScheduler


def _check_refine(refine: int) -> None:
    if refine < 0:
        raise ValueError(f"refine (fixed-point iterations per inversion step) must be ≥ 0, got {refine}")


def _fixed_point(update: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, refine: int) -> torch.Tensor:
    """x ← update(x) `refine` times, guarded per sample: an iterate whose residual ‖update(x) − x‖ is not below its
    predecessor's (the iteration diverges, as on coarse step grids) is dropped for the predecessor, and that sample
    stops."""
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
def ddim_invert(eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], latents: torch.Tensor,
                scheduler_config: dict, num_steps: int, refine: int = 0) -> list[torch.Tensor]:
    """z_0 (B, C, h, w) → [z at each inverted step], last = z_T. eps_fn(z, t) predicts the noise.

    Uses the same timesteps a `DDIMScheduler(**scheduler_config)` samples with `num_steps`, in reverse, so a
    deterministic DDIM run from z_T retraces the trajectory (up to the one-step lag of the inversion, which
    `refine` fixed-point iterations per step remove: ε is re-evaluated at the new state z_t, as the sampler will)."""
    _check_refine(refine)
    inv = DDIMInverseScheduler.from_config(scheduler_config, set_alpha_to_one=False)
    inv.set_timesteps(num_steps, device=latents.device)
    z = latents
    path = [z]
    for t in inv.timesteps:
        nxt = inv.step(eps_fn(z, t), t, z).prev_sample
        # the step is stateless: z_t = step(ε(z_t, t), t, z_{t-1})
        z = _fixed_point(lambda x, z=z, t=t: inv.step(eps_fn(x, t), t, z).prev_sample, nxt, refine)
        path.append(z)
    return path


@torch.no_grad()
def flow_invert(velocity_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], latents: torch.Tensor,
                sigmas: torch.Tensor, refine: int = 0) -> list[torch.Tensor]:
    """Rectified-flow inversion: integrate dx/dσ = v(x, σ) from σ = 0 up the sampling grid `sigmas`
    (descending, as the sampler uses them, ending above 0). Returns the states at sigmas reversed (last = x at
    sigmas[0]). Sampling x ← x + (σ_{i+1} − σ_i) v(x, σ_i) from there retraces the path — approximately with
    `refine` = 0 (each step's velocity taken at its start, x(σ_{i+1}), not at x(σ_i) as the sampler does), exactly
    once the fixed-point iterations x_i ← x_{i+1} + (σ_i − σ_{i+1}) v(x_i, σ_i) have converged."""
    _check_refine(refine)
    grid = sigmas.flip(0)  # ascending σ_{n-1} .. σ_0
    z = latents
    path = [z]
    prev = torch.zeros((), dtype=sigmas.dtype, device=sigmas.device)
    for s in grid:
        nxt = z + (s - prev) * velocity_fn(z, prev)
        z = _fixed_point(lambda x, z=z, s=s, prev=prev: z + (s - prev) * velocity_fn(x, s), nxt, refine)
        prev = s
        path.append(z)
    return path
