"""The one sampling loop every Flux pipeline runs.

    for each step i:  x ← hook.before_step(i, σ_i, x)         (LCP box regulation)
                      v ← guided velocity at (x, σ_i)           (one or more transformer passes)
                      x ← x + (σ_{i+1} − σ_i)·v                 (flow Euler step)
                      x ← hook.after_step(i, σ_{i+1}, x)        (lock anchoring, callbacks)

`hook.attention_kwargs(i)` adds per-step `joint_attention_kwargs` (attention swap, probes). The model
is an argument; the loop holds no state of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .flow import euler_step

Velocity = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, dict | None], torch.Tensor]


class Hook:
    """A step hook; override what you need. Hooks run in list order."""

    def before_step(self, i: int, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x

    def attention_kwargs(self, i: int) -> dict:
        return {}

    def after_step(self, i: int, sigma_next: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x


def denoise(model: torch.nn.Module, velocity: Velocity, latents: torch.Tensor, sigmas: torch.Tensor,
            hooks: Sequence[Hook] = (), joint_attention_kwargs: dict | None = None,
            progress: Callable[[], None] | None = None, interrupted: Callable[[], bool] | None = None) -> torch.Tensor:
    """latents (B, L, C·4) at σ = sigmas[0] → at σ = sigmas[-1] along `sigmas` (N + 1,) with `velocity`.
    `interrupted()` true before a step stops the loop there (the latents reached so far are returned)."""
    x = latents
    for i in range(len(sigmas) - 1):
        if interrupted is not None and interrupted():
            break
        sigma = sigmas[i].to(x.dtype)
        for h in hooks:
            x = h.before_step(i, sigma, x)
        kwargs = dict(joint_attention_kwargs or {})
        for h in hooks:
            kwargs.update(h.attention_kwargs(i))
        with torch.no_grad():
            v = velocity(model, x, sigma, kwargs or None)
        x = euler_step(x, v, sigmas[i], sigmas[i + 1])
        for h in hooks:
            x = h.after_step(i, sigmas[i + 1], x)
        if progress is not None:
            progress()
    return x
