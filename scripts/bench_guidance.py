"""Seconds per image of the embedded default's sampling settings, measured side by side in one process.

The settings alternate run by run (so a busy machine slows each alike) on the bundled demo canvas; prints the
median per setting and its ratio to the first. The last row runs the demo's setting with one transformer call per
guidance branch instead of the default (prompt and negative prompt stacked into one call).
Usage: .venv/bin/python scripts/bench_guidance.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from layercraft.canvas import load_project
from layercraft.examples import example_path
from layercraft.pipelines.loading import load_pipeline

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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = load_pipeline("default")
    pipe.set_progress_bar_config(disable=True)
    canvas = load_project(example_path())
    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for rep in range(args.repeats + 1):  # the first round warms up and is not counted
        for name, kw in SETTINGS.items():
            t0 = time.perf_counter()
            pipe(canvas.prompt, canvas, lock_blend=0.75, negative_prompt="", generator=torch.Generator().manual_seed(0),
                 **kw)
            if rep:
                times[name].append(time.perf_counter() - t0)
    base = statistics.median(next(iter(times.values())))
    print(f"embedded default, 128×128, bundled canvas, {args.threads} threads, median of {args.repeats}")
    print("| setting | s/image | ratio |\n|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {statistics.median(ts) / base:.2f} |")


if __name__ == "__main__":
    main()
