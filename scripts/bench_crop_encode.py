"""Encoding only the box around each layer's kept tokens against encoding every layer whole: how far the kept tokens
move, and the time, side by side in one run. Prints a markdown table and writes JSON.

    python scripts/bench_crop_encode.py [--model DIR] [--count 32] [--size 256] [--margins 0 1 2 3]
                                        [--threads 2] [--json out/bench/crop_encode.json]

Canvases: `count` LayerComposer training canvases (the `canvas` task's recipe: 1-8 people, most with a background
layer). Error: over the tokens the LayerComposer scheme keeps, the RMS difference of cropped from whole encodings
divided by the RMS of the whole encodings (the latents are normalised, so this is a fraction of the signal), and
the largest absolute difference. Time: all segments of all canvases encoded one plan call at a time, summed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="an AutoencoderKL folder (default: the bundled world one)")
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--margins", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path("out/bench/crop_encode.json"))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)

    from diffusers import AutoencoderKL

    from layercraft.denoise import Switches
    from layercraft.denoise.inputs import encode_segments, plan_canvas
    from layercraft.models.autoencoder import world_autoencoder_dir
    from layercraft.training.recipes import layercomposer

    vae = AutoencoderKL.from_pretrained(args.model or world_autoencoder_dir()).eval()
    grid = (args.size // 16, args.size // 16)
    rows = []
    rng = np.random.default_rng(0)
    plans = [plan_canvas(layercomposer(rng, args.size).canvas, "layercomposer", grid, Switches())
             for _ in range(args.count)]
    with torch.no_grad():
        t0 = time.perf_counter()
        whole = [encode_segments(vae, p, margin=None) for p in plans]
        t_whole = time.perf_counter() - t0
        for m in args.margins:
            t0 = time.perf_counter()
            crop = [encode_segments(vae, p, margin=m) for p in plans]
            t_crop = time.perf_counter() - t0
            diff, ref = [], []
            for ps, ws, cs in zip(plans, whole, crop, strict=True):
                for p, w, c in zip(ps, ws, cs, strict=True):
                    keep = p.spec.keep.reshape(-1)
                    diff.append(c[keep] - w[keep])
                    ref.append(w[keep])
            d, r = torch.cat(diff), torch.cat(ref)
            rows.append({"margin": m, "layers": sum(len(p) for p in plans),
                         "rel_rms": float(d.pow(2).mean().sqrt() / r.pow(2).mean().sqrt()),
                         "max_abs": float(d.abs().max()), "time_whole_s": t_whole, "time_crop_s": t_crop,
                         "speedup": t_whole / t_crop})
    print("| margin | layers | rel. RMS error | max abs error | whole (s) | cropped (s) | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['margin']} | {r['layers']} | {r['rel_rms']:.4f} | {r['max_abs']:.3f} | "
              f"{r['time_whole_s']:.2f} | {r['time_crop_s']:.2f} | {r['speedup']:.2f}× |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.json.with_suffix(".tmp")
    tmp.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1))
    tmp.replace(args.json)


if __name__ == "__main__":
    main()
