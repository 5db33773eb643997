"""Time of the bundled ×4 upscalers on this CPU: both models, 128 → 512 and 256 → 1024, as `upscale()` runs them
by default (whole up to `tile`², else in tiles) and, where that is tiled, as one whole call; in the dtypes asked
for, side by side in one run. Prints a markdown table (and the CPU, threads, load average).

    python scripts/bench_upscale.py [--sizes 128 256] [--models anime photo] [--dtypes float32 bfloat16]
                                    [--threads 2] [--repeats 1]

Input: scikit-image's astronaut, resized (content does not change the cost). A warm-up call on a small image runs
first for each model and dtype (oneDNN picks its kernels then).
"""

from __future__ import annotations

import argparse
import os
import time

import skimage.data
import torch
from PIL import Image

from layercraft.devices import cpu_has_native_bf16
from layercraft.upscale import Upscaler


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--models", nargs="+", default=["anime", "photo"])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    ap.add_argument("--tile", type=int, default=192, help="the Upscaler's tile side in input pixels")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    photo = Image.fromarray(skimage.data.astronaut())
    print(f"{cpu_name()}, {args.threads} threads, native bf16: {cpu_has_native_bf16()}, load average at start "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print()
    print("| model | dtype | input → output | as `upscale()` runs it: s (calls) | one whole call: s | MPix out / s |")
    print("|---|---|---|---|---|---|")
    for kind in args.models:
        for dtype in args.dtypes:
            up = Upscaler.from_bundled(kind, device="cpu", dtype=dtype, tile=args.tile)
            up.upscale(photo.resize((32, 32)), tile=0)  # warm-up
            for size in args.sizes:
                image = photo.resize((size, size), Image.Resampling.BICUBIC)
                plan = up.plan(size, size)
                modes = {"default": None} if plan.tiles == 1 else {"default": None, "whole": 0}
                times = {}
                for mode, tile in modes.items():
                    best = float("inf")
                    for _ in range(args.repeats):
                        t0 = time.perf_counter()
                        out = up.upscale(image, tile=tile)
                        best = min(best, time.perf_counter() - t0)
                    assert out.size == (4 * size, 4 * size)
                    times[mode] = best
                whole = f"{times['whole']:.2f}" if "whole" in times else "(the same)"
                rate = (4 * size) ** 2 / 1e6 / times["default"]
                print(f"| {kind} | {dtype} | {size}² → {4 * size}² | {times['default']:.2f} ({plan.tiles}) | {whole} "
                      f"| {rate:.3f} |", flush=True)
    print()
    print(f"load average at end {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
