"""Warm-start a transformer on a new latent space through linear token maps fitted on world renders.

The embedded default (v1) reads 192-d tokens (pixel unshuffle of a 128² image); `embedded-v2` reads 64-d tokens (the
world autoencoder at 256²) on the same 16×16 grid, so token k of either covers the same part of the picture. Fitted
by least squares on world images (targets and canvas layers over white, as the model sees them):

    t₁ ≈ A t₂ + a      (v2 token → v1 token)        t₂ ≈ B t₁ + b      (v1 token → v2 token)

the v2 input projection becomes W_in·A (bias W_in·a + c_in) and the output projection B·W_out (bias B·c_out + b),
so the warm-started v2 model starts as the v1 model seen through the two maps instead of with fresh projections.

    .venv/bin/python -m experiments.token_transplant --out out/embedded-v2-transplant.safetensors
    .venv/bin/layercraft train configs/embedded-v2.yaml init_weights=out/embedded-v2-transplant.safetensors \
        init_weights_partial=false
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image
from safetensors.torch import load_file, save_file

from layercraft.canvas.raster import rasterize
from layercraft.conditioning.pruning import pack
from layercraft.denoise.canvas_pixels import rgba_to_tensor
from layercraft.models.autoencoder import to_latents, world_autoencoder_dir
from layercraft.pipelines import load_pipeline
from layercraft.training.recipes import RECIPES
from layercraft.training.scenes import scene_source

V1 = Path("src/layercraft/assets/models/embedded-small/transformer/diffusion_pytorch_model.safetensors")


def world_pictures(n: int, size: int, seed: int) -> list[np.ndarray]:
    """(size, size, 3) uint8: each example's target and every canvas layer over white."""
    rng, scenes, out = np.random.default_rng(seed), scene_source(None), []
    while len(out) < n:
        e = RECIPES["layercomposer"](rng, size, scenes=scenes)
        out.append(e.target)
        for r in (r for r in rasterize(e.canvas) if r.placed):
            rgb = ((rgba_to_tensor(r.rgba) + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
            out.append(rgb)
    return out[:n]


def tokens(vae, images: torch.Tensor) -> torch.Tensor:
    """images (N, 3, H, W) in [-1, 1] → (N·L, C·4) packed normalised latent tokens."""
    with torch.no_grad():
        z = torch.cat([to_latents(vae, images[k:k + 16]) for k in range(0, len(images), 16)])
    return torch.cat([pack(x) for x in z])


def least_squares(x: torch.Tensor, y: torch.Tensor, ridge: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor, float]:
    """y ≈ M x + m over rows; returns (M, m, R² of y)."""
    x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1).double()
    gram = x1.T @ x1 + ridge * len(x) * torch.eye(x1.shape[1], dtype=torch.float64)
    sol = torch.linalg.solve(gram, x1.T @ y.double())  # (Cx + 1, Cy)
    resid = y.double() - x1 @ sol
    r2 = 1 - resid.pow(2).sum() / (y.double() - y.double().mean(0)).pow(2).sum()
    return sol[:-1].T.float(), sol[-1].float(), float(r2)


def transplant(src: dict[str, torch.Tensor], A, a, B, b) -> dict[str, torch.Tensor]:
    out = dict(src)
    w_in, c_in = src["x_embedder.weight"], src["x_embedder.bias"]  # (D, 192), (D,)
    out["x_embedder.weight"], out["x_embedder.bias"] = w_in @ A, w_in @ a + c_in
    w_out, c_out = src["proj_out.weight"], src["proj_out.bias"]  # (192, D), (192,)
    out["proj_out.weight"], out["proj_out.bias"] = B @ w_out, B @ c_out + b
    return {k: v.contiguous() for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--images", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    pics = world_pictures(args.images, 256, args.seed)
    hi = torch.stack([torch.from_numpy(p).permute(2, 0, 1).float() / 127.5 - 1 for p in pics])  # (N, 3, 256, 256)
    lo = torch.stack([torch.from_numpy(np.asarray(Image.fromarray(p).resize((128, 128), Image.BOX))).permute(2, 0, 1)
                      .float() / 127.5 - 1 for p in pics])  # (N, 3, 128, 128)
    v1_vae = load_pipeline("default").vae
    v2_vae = AutoencoderKL.from_pretrained(world_autoencoder_dir()).eval()
    t1, t2 = tokens(v1_vae, lo), tokens(v2_vae, hi)  # (M, 192), (M, 64)
    A, a, r2_1 = least_squares(t2, t1)
    B, b, r2_2 = least_squares(t1, t2)
    print(f"{len(pics)} pictures, {len(t1)} token pairs: R²(v1 | v2 token) {r2_1:.3f}, R²(v2 | v1 token) {r2_2:.3f}; "
          f"token variance v1 {t1.var(0).mean():.3f}, v2 {t2.var(0).mean():.3f}; "
          f"‖BA − I‖/‖I‖ {torch.linalg.norm(B @ A - torch.eye(64)) / 8:.3f}")
    state = transplant({k: v.float() for k, v in load_file(str(V1)).items()}, A, a, B, b)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
