"""How exactly does the retouch's flow inversion come back? Plain vs fixed-point-refined inversion, side by side.

Layout-and-Retouch inverts the layout image and regenerates it with the personalized model; whatever the
inversion loses, the retouched image loses (measured: at 20 plain steps the person moves by 0.12
of the image). For layout images of the λ1 sweep (held-out one-person prompts, step blending at λ1 with true
CFG), each set-up (steps, fixed-point iterations) inverts the layout latent with the personalized model and
regenerates it unguided — the retouch's paths without the swap — and reports: relative latent error
‖z' − z‖ / ‖z‖ (median, max), pixel MAE (0-255), the person's centre shift (normalised, world detector), the
centre-point spread σ² of the regenerated images against the layouts', model calls and wall time per image
(ratio to the plain inversion at the first step count). Prints a markdown table; `--out` also writes JSON.

    python -m experiments.bench_inversion --model out/ablations/vanilla-t2i-1p/final \
        --lora out/ablations/dreambooth-world/final [--prompts 8 --seeds 2 --setups 20:0,20:1,20:2,20:4,50:0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from experiments.blend_sweep import personalized_pipeline, sweep_noise, sweep_prompts
from layercraft.canvas import Canvas
from layercraft.eval.layout import centre_spread, centres
from layercraft.eval.loading import load_backends, model_resolution


def best_centre(detector, arr: np.ndarray) -> np.ndarray | None:
    det = detector.detect(arr).of_label(0)
    if not len(det):
        return None
    return centres(det.boxes[np.argmax(det.scores)][None], arr.shape[1], arr.shape[0])[0]


def _fmt(x: float | None, digits: int) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--lora", type=Path, required=True)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--layout-steps", type=int, default=20)
    ap.add_argument("--blend-steps", type=int, default=3, help="λ1 of the layout images")
    ap.add_argument("--true-cfg", type=float, default=3.0)
    ap.add_argument("--setups", default="20:0,20:1,20:2,20:4,50:0", help="steps:refine, comma-separated")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    pipe = personalized_pipeline(args.model, args.lora)
    size = model_resolution(args.model) or 128
    grid = (size // pipe.stride, size // pipe.stride)
    detector = load_backends("world").detector
    setups = [tuple(int(x) for x in s.split(":")) for s in args.setups.split(",")]
    # the sweep's layout images: the same prompts and noise as `python -m experiments.blend_sweep sweep`
    layouts = []
    for k, (y_p, y_r) in enumerate(sweep_prompts(args.prompts, size)):
        canvas = Canvas(width=size, height=size, prompt=y_r)
        for seed in range(args.seeds):
            z = pipe.step_blended(y_p, y_r, canvas, sweep_noise(pipe, k, seed, grid), args.layout_steps,
                                  args.blend_steps, true_cfg_scale=args.true_cfg)
            arr = np.asarray(pipe.decode(z, grid, "pil")[0].convert("RGB"))
            layouts.append((y_p, canvas, z, arr, best_centre(detector, arr)))

    results = []
    for steps, refine in setups:
        errs, maes, shifts, points = [], [], [], []
        t0 = time.perf_counter()
        for y_p, canvas, z0, arr0, c0 in layouts:
            z_t = pipe.invert(z0, y_p, canvas, steps, refine=refine)  # the layout path's prompt, as in retouch
            z1 = pipe.regenerate(z_t, y_p, canvas, steps)
            arr1 = np.asarray(pipe.decode(z1, grid, "pil")[0].convert("RGB"))
            errs.append(float((z1 - z0).float().norm() / z0.float().norm()))
            maes.append(float(np.abs(arr1.astype(float) - arr0).mean()))
            c1 = best_centre(detector, arr1)
            points.append(c1)
            if c0 is not None and c1 is not None:
                shifts.append(float(np.linalg.norm(c1 - c0)))
        wall = (time.perf_counter() - t0) / len(layouts)
        found = [p for p in points if p is not None]
        results.append({"steps": steps, "refine": refine, "calls": steps * (refine + 1) + steps,
                        "err_median": float(np.median(errs)), "err_max": float(np.max(errs)),
                        "pixel_mae": float(np.mean(maes)), "centre_shift": float(np.mean(shifts)) if shifts else None,
                        "spread": centre_spread(np.asarray(found)) if found else None, "s_per_image": wall})
    base_pts = [c for *_, c in layouts if c is not None]
    layout_spread = centre_spread(np.asarray(base_pts)) if base_pts else None

    ref = results[0]["s_per_image"]
    print(f"{len(layouts)} layout images (λ1 = {args.blend_steps}, {args.layout_steps} steps, true CFG "
          f"{args.true_cfg}); layouts' centre spread σ² = {_fmt(layout_spread, 4)}\n")
    print("| steps | fixed-point iterations | model calls / image | rel. latent error (median / max) | "
          "pixel MAE | centre shift | spread σ² | time (× first) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['steps']} | {r['refine']} | {r['calls']} | {r['err_median']:.3f} / {r['err_max']:.3f} | "
              f"{r['pixel_mae']:.1f} | {_fmt(r['centre_shift'], 3)} | {_fmt(r['spread'], 4)} | "
              f"{r['s_per_image'] / ref:.2f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "n_images": len(layouts),
                                   "layout_spread": layout_spread, "results": results}, indent=1))
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
