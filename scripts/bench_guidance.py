"""Seconds per image of the embedded default's sampling settings, measured side by side in one process.

The settings alternate run by run (so a busy machine slows each alike) on the bundled demo canvas; prints the
median per setting and its ratio to the first. The last row runs the demo's setting with one transformer call per
guidance branch instead of the default (prompt and negative prompt stacked into one call). With `--student` the
guidance-distilled student (`default-distilled`: the same scales as an input, one pass per step) joins at each of
`--student-steps`.
Usage: .venv/bin/python scripts/bench_guidance.py [--repeats 5] [--dtype auto] [--student --student-steps 10 6 4]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from layercraft.canvas import load_project
from layercraft.examples import example_path
from layercraft.pipelines.loading import DISTILLED, load_pipeline, place_pipeline

SETTINGS = {  # name → pipeline keywords (the demo's lock blend throughout)
    "20 steps, true CFG 3": dict(num_inference_steps=20, true_cfg_scale=3.0),
    "20 steps, true CFG 3, canvas CFG 2": dict(num_inference_steps=20, true_cfg_scale=3.0, canvas_cfg_scale=2.0),
    "10 steps, true CFG 3, canvas CFG 2 (demo)": dict(num_inference_steps=10, true_cfg_scale=3.0,
                                                      canvas_cfg_scale=2.0),
    "10 steps, true CFG 3, canvas CFG 2, branches unbatched": dict(num_inference_steps=10, true_cfg_scale=3.0,
                                                                   canvas_cfg_scale=2.0, batch_guidance=False),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="float32", help="auto, float32 or bfloat16 (as `layercraft demo --dtype`)")
    ap.add_argument("--student", action="store_true", help="also time the guidance-distilled student")
    ap.add_argument("--student-steps", type=int, nargs="+", default=[10, 6, 4])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipes = {"default": place_pipeline(load_pipeline("default"), "cpu", args.dtype)}
    settings = {name: ("default", kw) for name, kw in SETTINGS.items()}
    if args.student:
        pipes[DISTILLED] = place_pipeline(load_pipeline(DISTILLED), "cpu", args.dtype)
        for n in args.student_steps:
            settings[f"student: {n} steps × 1 pass, true CFG 3, canvas CFG 2 as inputs"] = (
                DISTILLED, dict(num_inference_steps=n, true_cfg_scale=3.0, canvas_cfg_scale=2.0))
    for pipe in pipes.values():
        pipe.set_progress_bar_config(disable=True)
    canvas = load_project(example_path())
    times: dict[str, list[float]] = {name: [] for name in settings}
    for rep in range(args.repeats + 1):  # the first round warms up and is not counted
        for name, (model, kw) in settings.items():
            t0 = time.perf_counter()
            pipes[model](canvas.prompt, canvas, lock_blend=0.75, negative_prompt="",
                         generator=torch.Generator().manual_seed(0), **kw)
            if rep:
                times[name].append(time.perf_counter() - t0)
    base = statistics.median(next(iter(times.values())))
    print(f"embedded default, 128×128, bundled canvas, {args.dtype}, {args.threads} threads, "
          f"median of {args.repeats}")
    print("| setting | s/image | ratio |\n|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {statistics.median(ts) / base:.2f} |")


if __name__ == "__main__":
    main()
