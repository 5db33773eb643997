"""Box-constrained cross-attention regulation (LCP eq. 5-8): training-free, usable on any model that exposes
text attention maps (UNet attn2, or the image→text block of Flux joint attention).

Maps are (B, N, K): for each of the K subject tokens the attention of the N = h·w latent pixels to it.
Boxes are (K, 4) as (x0, y0, x1, y1) in [0, 1] of the canvas.
"""

from __future__ import annotations

import math

import torch


def box_masks(boxes: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """(K, 4) normalised boxes → (K, h, w) float masks M_k of the cells they cover (at least one cell)."""
    h, w = hw
    out = torch.zeros(boxes.shape[0], h, w, device=boxes.device)
    for k, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        c0, c1 = math.floor(x0 * w), max(math.floor(x0 * w) + 1, math.ceil(x1 * w))
        r0, r1 = math.floor(y0 * h), max(math.floor(y0 * h) + 1, math.ceil(y1 * h))
        out[k, max(r0, 0) : min(r1, h), max(c0, 0) : min(c1, w)] = 1.0
    return out


def corner_masks(boxes: torch.Tensor, hw: tuple[int, int], radius: float = 0.1) -> torch.Tensor:
    """V_k: union of four squares centred at the box vertices, half-side `radius`·(box side), ≥ 1 cell → (K, h, w)."""
    h, w = hw
    ys = (torch.arange(h, device=boxes.device) + 0.5) / h  # cell centres
    xs = (torch.arange(w, device=boxes.device) + 0.5) / w
    out = torch.zeros(boxes.shape[0], h, w, device=boxes.device)
    for k, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        rx, ry = max(radius * (x1 - x0), 1 / w), max(radius * (y1 - y0), 1 / h)
        for cx in (x0, x1):
            for cy in (y0, y1):
                near = ((ys[:, None] - cy).abs() <= ry) & ((xs[None, :] - cx).abs() <= rx)
                out[k] = torch.maximum(out[k], near.float())
    return out


def _grid(maps: torch.Tensor, aspect: float) -> tuple[int, int]:
    n = maps.shape[1]
    h = round(math.sqrt(n * aspect))
    return h, n // h


def position_loss(maps: torch.Tensor, boxes: torch.Tensor, aspect: float = 1.0) -> torch.Tensor:
    """eq. 5: Σ_k (1 − Σ_{(i,j)∈B_k} A_k / Σ_{(i,j)} A_k)², averaged over the batch. aspect = h / w of the grid."""
    hw = _grid(maps, aspect)
    m = box_masks(boxes, hw).flatten(1).to(maps.dtype)  # (K, N)
    a = maps.transpose(1, 2)  # (B, K, N)
    inside = (a * m).sum(-1) / a.sum(-1).clamp(min=1e-12)  # (B, K)
    return ((1 - inside) ** 2).sum(-1).mean()


def scale_loss(maps: torch.Tensor, boxes: torch.Tensor, aspect: float = 1.0, radius: float = 0.1) -> torch.Tensor:
    """eq. 6-7: L_x + L_y with corner-weighted differences of the axis projections of the (max-normalised)
    attention map and the box mask; each subject's sum is divided by its box width (height) in cells."""
    h, w = _grid(maps, aspect)
    b, _, k = maps.shape
    a = maps.transpose(1, 2).reshape(b, k, h, w)
    a = a / a.amax(dim=(-2, -1), keepdim=True).clamp(min=1e-12)
    m = box_masks(boxes, (h, w)).to(maps.dtype)  # (K, h, w)
    v = corner_masks(boxes, (h, w), radius).to(maps.dtype)
    n_x = m.amax(1).sum(-1).clamp(min=1)  # (K,) box width in cells
    n_y = m.amax(2).sum(-1).clamp(min=1)
    lx = (v.amax(1) * (a.amax(2) - m.amax(1)).abs()).sum(-1) / n_x  # (B, K): project onto x (max over rows)
    ly = (v.amax(2) * (a.amax(3) - m.amax(2)).abs()).sum(-1) / n_y
    return (lx + ly).sum(-1).mean()


def box_loss(layer_maps: dict[str, list[torch.Tensor]], boxes: torch.Tensor, aspect: float = 1.0,
             scale_weight: float = 1.0) -> torch.Tensor:
    """L_pos + L_scale averaged over every recorded attention layer (all resolutions p)."""
    terms = [position_loss(m, boxes, aspect) + scale_weight * scale_loss(m, boxes, aspect)
             for maps in layer_maps.values() for m in maps]
    if not terms:
        raise ValueError("no attention maps were recorded; is the regulation store wired to the model?")
    return torch.stack(terms).mean()


def step_size(step: int, num_steps: int, base: float = 1.0) -> float:
    """α_t of eq. 8, decaying linearly from `base` at the first step to base / num_steps at the last."""
    return base * (1.0 - step / max(num_steps, 1))


def regulate(latents: torch.Tensor, loss_fn, alpha: float, eta: float, iterations: int = 1) -> torch.Tensor:
    """eq. 8: z_t ← z_t − α_t · η · ∇_{z_t}(L_pos + L_scale); loss_fn(z) runs the model and returns the loss."""
    z = latents.detach()
    for _ in range(iterations):
        z = z.requires_grad_(True)
        with torch.enable_grad():
            loss = loss_fn(z)
            (grad,) = torch.autograd.grad(loss, z)
        z = (z - alpha * eta * grad).detach()
    return z
