"""Token / memory / time cost of canvas conditioning, measured side by side on one model.

For 1, 2, 4, 8, 16 subjects — the same total subject area, and a growing area (each subject the
same size) — and four set-ups on the `embedded-small` model (random weights; costs do not depend on
training): (a) naive: every layer's full canvas grid as condition tokens; (b) pruned by alpha;
(c) pruned + condition KV cache; (d) plain text-to-image (empty canvas). Prints a markdown table.

    python scripts/bench_tokens.py [--steps 4] [--model embedded-small] [--dtype auto|float32|bfloat16]
    python scripts/bench_tokens.py --compare-dtypes     # fp32 against bf16 autocast, side by side in one run

`--dtype auto` (the default) is what the CLI picks: bf16 autocast only on a CPU that computes bf16 natively
(AVX-512 BF16 or AMX), fp32 elsewhere — without native bf16, autocast emulates it and runs several times slower.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time

import numpy as np
import torch
from PIL import Image
from torch.profiler import ProfilerActivity, profile

from layercraft.canvas import Canvas, Layer, Placement
from layercraft.devices import cpu_has_native_bf16
from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline

SETUPS = {"a": dict(prune=False), "b": dict(prune=True), "c": dict(prune=True, cache=True), "d": {}}


def disc(side: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    inside = (yy - side / 2 + 0.5) ** 2 + (xx - side / 2 + 0.5) ** 2 < (side / 2) ** 2
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 255, (side, side, 3))
    rgba[..., 3] = inside * 255
    return Image.fromarray(rgba, "RGBA")


def subjects_canvas(n: int, size: int, area: str) -> Canvas:
    """n discs on a k×k grid of cells; `same`: together they cover what one disc of size/2 covers,
    `growing`: each is size/4 across."""
    side = max(4, round(size / 2 / math.sqrt(n))) if area == "same" else size // 4
    k = math.ceil(math.sqrt(n))
    cell = size / k
    layers = []
    for i in range(n):
        r, c = divmod(i, k)
        x, y = c * cell + (cell - side) / 2, r * cell + (cell - side) / 2
        layers.append(Layer(id=f"s{i}", image=disc(side, i), placement=Placement(x=round(x), y=round(y))))
    return Canvas(width=size, height=size, layers=layers)


def peak_bytes(fn) -> int:
    """Peak of live tensor memory allocated while fn runs (torch profiler allocation events)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    cur = peak = 0
    for e in events:
        cur += e.self_cpu_memory_usage
        peak = max(peak, cur)
    return peak


class StepTimer:
    def __init__(self, model: torch.nn.Module):
        self.times: list[float] = []
        self.tokens: list[int] = []
        self._start = 0.0
        model.register_forward_pre_hook(self._pre, with_kwargs=True)
        model.register_forward_hook(self._post)

    def _pre(self, module, args, kwargs):  # the pipeline passes hidden_states by keyword
        hidden = args[0] if args else kwargs["hidden_states"]
        self.tokens.append(hidden.shape[1])
        self._start = time.perf_counter()

    def _post(self, module, args, out):
        self.times.append(time.perf_counter() - self._start)

    def reset(self) -> None:
        self.times, self.tokens = [], []


def measure(pipe: LayeredCanvasPipeline, timer: StepTimer, canvas: Canvas, setup: dict, steps: int,
            autocast: contextlib.AbstractContextManager, repeats: int = 2) -> dict[str, float]:
    def run(n_steps: int) -> None:
        with autocast:
            pipe("a group of people", canvas, num_inference_steps=n_steps, output_type="np",
                 generator=torch.Generator().manual_seed(0), **setup)

    run(1)  # warm-up
    images, step_times = [], []
    for _ in range(repeats):  # the best of `repeats` runs: the machine is shared
        timer.reset()
        t0 = time.perf_counter()
        run(steps)
        images.append(time.perf_counter() - t0)
        step_times.append(float(np.median(timer.times)))
    n_noisy = (canvas.height // pipe.stride) * (canvas.width // pipe.stride)
    out = {"tokens": timer.tokens[0] - n_noisy, "step": min(step_times), "image": min(images)}
    out["mem"] = peak_bytes(lambda: run(1)) / 2**20
    return out


def compare(pipe: LayeredCanvasPipeline, timer: StepTimer, size: int, args, native: bool) -> None:
    """fp32 and bf16 autocast, interleaved per cell (the machine is shared: neither mode gets the quieter minute)."""
    import os

    modes = {"fp32": contextlib.nullcontext, "bf16 autocast": lambda: torch.autocast("cpu", dtype=torch.bfloat16)}
    cells = {"(d) text-to-image": (Canvas(width=size, height=size), SETUPS["d"]),
             "(c) 4 subjects, pruned + cached": (subjects_canvas(4, size, "same"), SETUPS["c"])}
    print(f"\nmodel {args.model}, {size}×{size} px, {args.steps} steps, {torch.get_num_threads()} threads, "
          f"native bf16: {native}, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    print("| cell | fp32 s/step | bf16 autocast s/step | bf16 / fp32 |")
    print("|---|---|---|---|")
    for name, (canvas, setup) in cells.items():
        r = {m: measure(pipe, timer, canvas, setup, args.steps, make(), args.repeats) for m, make in modes.items()}
        print(f"| {name} | {r['fp32']['step']:.3f} | {r['bf16 autocast']['step']:.3f} "
              f"| {r['bf16 autocast']['step'] / r['fp32']['step']:.2f}× |", flush=True)
    print(f"\nload average at end {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="embedded-small")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--counts", default="1,2,4,8,16")
    ap.add_argument("--areas", default="same,growing")
    ap.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                    help="bfloat16: bf16 autocast; auto: bf16 only where the CPU computes it natively")
    ap.add_argument("--bf16", action="store_true", help="the same as --dtype bfloat16")
    ap.add_argument("--compare-dtypes", action="store_true",
                    help="only time fp32 against bf16 autocast side by side (text-to-image and 4 subjects, pruned + "
                         "cached), then stop")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per cell; the fastest counts")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = LayeredCanvasPipeline.from_spec(args.model)
    pipe.set_progress_bar_config(disable=True)
    timer = StepTimer(pipe.transformer)
    size = pipe.stride * 16 if args.model == "tiny-test" else 128
    native = cpu_has_native_bf16()
    if args.compare_dtypes:
        compare(pipe, timer, size, args, native)
        return
    bf16 = args.bf16 or args.dtype == "bfloat16" or (args.dtype == "auto" and native)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    t2i = measure(pipe, timer, Canvas(width=size, height=size), SETUPS["d"], args.steps, autocast, args.repeats)

    print(f"\nmodel {args.model}, {size}×{size} px, {args.steps} steps, {torch.get_num_threads()} threads, "
          f"{'bf16 autocast' if bf16 else 'fp32'} (native bf16: {native}); "
          f"(d) text-to-image: {t2i['step']:.3f} s/step, "
          f"{t2i['image']:.2f} s/image, peak {t2i['mem']:.1f} MiB\n")
    print("| area | subjects | cond tokens a / b / c | peak MiB a / b / c | s/step a / b / c | s/image a / b / c "
          "| c/d s/image | c/d s/step | c/d mem |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for area in args.areas.split(","):
        for n in [int(c) for c in args.counts.split(",")]:
            r = {k: measure(pipe, timer, subjects_canvas(n, size, area), s, args.steps, autocast, args.repeats)
                 for k, s in SETUPS.items() if k != "d"}
            rows.append((area, n, r))
            a, b, c = r["a"], r["b"], r["c"]
            print(f"| {area} | {n} | {a['tokens']} / {b['tokens']} / {c['tokens']} "
                  f"| {a['mem']:.1f} / {b['mem']:.1f} / {c['mem']:.1f} "
                  f"| {a['step']:.3f} / {b['step']:.3f} / {c['step']:.3f} "
                  f"| {a['image']:.2f} / {b['image']:.2f} / {c['image']:.2f} "
                  f"| {c['image'] / t2i['image']:.2f} | {c['step'] / t2i['step']:.2f} | {c['mem'] / t2i['mem']:.2f} |",
                  flush=True)
    same = {n: r for area, n, r in rows if area == "same"}
    if 1 in same and 16 in same:
        print("\n16 subjects vs 1 over the same area, s/image: "
              + ", ".join(f"({k}) {same[16][k]['image'] / same[1][k]['image']:.2f}×" for k in ("a", "b", "c")))


if __name__ == "__main__":
    main()
