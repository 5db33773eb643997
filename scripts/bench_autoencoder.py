"""The learned world autoencoder against the pixel-unshuffle one: reconstruction quality on held-out world images and
the time to encode and decode one 256² image, side by side in one run. Prints a markdown table and writes JSON.

    python scripts/bench_autoencoder.py [--model DIR] [--count 64] [--size 256] [--threads 2] [--repeats 5]
                                        [--json docs/findings/autoencoder.json]

Images: `count` validation-split world scenes (never trained on), every other one as a canvas (people layers over
white), as the `autoencoder` training task makes them. Quality: PSNR and SSIM of the posterior-mode reconstruction
(mean and a 95 % bootstrap interval over images); world FID (the world scene classifier's features, as `layercraft
eval` computes FID) of the reconstructions against the originals, beside the FID of two disjoint sets of originals
(what sampling noise alone gives at this count). Flat colour: 24 random colours as 64² squares on white, black and
grey grounds, the mean absolute error (0-255) of the squares' reconstructed interiors (pixel unshuffle: 0). Time:
encode and decode of one image, fp32 and bf16 autocast, median of `repeats` after a warm-up call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interval(values: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = [values[rng.integers(len(values), size=len(values))].mean() for _ in range(n)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def flat_colour_error(vae, size: int, seed: int = 0) -> float:
    """Mean |Δ| (0-255) inside 64² squares of 24 random flat colours on three grounds, reconstructed by `vae`."""
    rng = np.random.default_rng(seed)
    errors = []
    for ground in (255, 0, 128):
        for colour in rng.integers(0, 256, size=(8, 3)):
            img = np.full((1, 3, size, size), ground / 127.5 - 1.0, np.float32)
            img[:, :, 64:128, 64:128] = (colour / 127.5 - 1.0)[None, :, None, None]
            with torch.no_grad():
                x = torch.from_numpy(img)
                rec = vae.decode(vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
            inner = (rec - x)[:, :, 80:112, 80:112].abs().mean()
            errors.append(float(inner) * 127.5)
    return float(np.mean(errors))


def main() -> None:
    from diffusers import AutoencoderKL

    from layercraft.eval.fid import fid
    from layercraft.eval.world_backends import world_backends
    from layercraft.models.autoencoder import PixelUnshuffleAutoencoder, world_autoencoder_dir
    from layercraft.training.tasks.autoencoder import reconstruction_metrics, to_tensor, world_image
    from layercraft.world.splits import scene_range

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="AutoencoderKL folder (default: the bundled one)")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    folder = a.model or world_autoencoder_dir()
    if not (folder / "config.json").is_file():
        raise SystemExit(f"no AutoencoderKL in {folder}: train one (configs/world-autoencoder.yaml) and pass --model")
    vae = AutoencoderKL.from_pretrained(folder, torch_dtype=torch.float32).eval()

    lo, _ = scene_range("val")
    rng = np.random.default_rng(0)
    images = [world_image(lo + 1000 + k, k % 4, a.size, k % 2 == 1, rng) for k in range(a.count)]
    reference = [world_image(lo + 5000 + k, k % 4, a.size, k % 2 == 1, rng) for k in range(a.count)]
    x = to_tensor(images)
    per_image = [reconstruction_metrics(vae, x[k:k + 1]) for k in range(a.count)]
    psnr = np.array([m["psnr"] for m in per_image])
    ssim = np.array([m["ssim"] for m in per_image])
    with torch.no_grad():
        rec = torch.cat([vae.decode(vae.encode(x[k:k + 8]).latent_dist.mode()).sample for k in range(0, a.count, 8)])
    rec_u8 = [((r.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy() for r in rec]
    feats = world_backends().features
    f_orig, f_rec, f_ref = feats.features(images), feats.features(rec_u8), feats.features(reference)
    quality = {"psnr": float(psnr.mean()), "psnr_ci": interval(psnr), "ssim": float(ssim.mean()),
               "ssim_ci": interval(ssim), "fid_reconstructions": fid(f_orig, f_rec),
               "fid_two_real_sets": fid(f_orig, f_ref),
               "psnr_scenes": float(psnr[0::2].mean()), "psnr_canvases": float(psnr[1::2].mean()),
               "flat_colour_error": flat_colour_error(vae, a.size)}

    z = torch.randn(1, vae.config.latent_channels, a.size // 8, a.size // 8)
    one = x[:1]
    unshuffle = PixelUnshuffleAutoencoder(factor=4)
    zu = torch.randn(1, 48, a.size // 4, a.size // 4)
    timing = {}
    with torch.no_grad():
        for dtype in (torch.float32, torch.bfloat16):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is torch.bfloat16):
                name = str(dtype).removeprefix("torch.")
                timing[name] = {"decode_ms": 1000 * timed(lambda: vae.decode(z), a.repeats),
                                "encode_ms": 1000 * timed(lambda: vae.encode(one), a.repeats)}
        timing["pixel_unshuffle"] = {"decode_ms": 1000 * timed(lambda: unshuffle.decode(zu), a.repeats),
                                     "encode_ms": 1000 * timed(lambda: unshuffle.encode(one), a.repeats)}
    params = sum(p.numel() for p in vae.parameters())
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    result = {"model": str(a.model or world_autoencoder_dir()), "parameters": params, "count": a.count,
              "size": a.size, "threads": a.threads, "cpu": cpu, "load": os.getloadavg()[0], "quality": quality,
              "timing": timing}
    q = quality
    print(f"| learned world autoencoder ({params / 1e6:.2f} M parameters), {a.count} held-out {a.size}² images | |")
    print("|---|---|")
    print(f"| PSNR (dB), mean [95 % CI] | {q['psnr']:.2f} [{q['psnr_ci'][0]:.2f}, {q['psnr_ci'][1]:.2f}] "
          f"(scenes {q['psnr_scenes']:.2f}, canvases {q['psnr_canvases']:.2f}) |")
    print(f"| SSIM | {q['ssim']:.3f} [{q['ssim_ci'][0]:.3f}, {q['ssim_ci'][1]:.3f}] |")
    print(f"| world FID, reconstructions vs originals | {q['fid_reconstructions']:.2f} "
          f"(two sets of originals: {q['fid_two_real_sets']:.2f}) |")
    print(f"| flat colour error, mean abs (0-255) inside 64² squares | {q['flat_colour_error']:.1f} |")
    for name, t in timing.items():
        print(f"| {name}: decode / encode one {a.size}² image | {t['decode_ms']:.1f} / {t['encode_ms']:.1f} ms |")
    print(f"\n{cpu}, {a.threads} threads, load {result['load']:.2f}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
