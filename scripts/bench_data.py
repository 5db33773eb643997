"""Preparation speed: images per second per core for `layercraft data prepare`.

    python scripts/bench_data.py [--n 24] [--workers 1] [--max-side 1024] [--out /tmp/bench-data] [--stream 512]

Builds `n` photos from the real photos that ship in installed packages (astronaut, grace_hopper,
and group photos of both: mirrored, shifted, rescaled copies), prepares them with the local engine,
and prints the perception time per image, images/s/core, the finalising time and the machine's
load average (the figures are only as quiet as the machine). With `--stream SIZE`, it then times
the canvas task's streaming reader on the dataset (`data: {dataset, streaming: true}`): training
examples made per second by one stream (read, crop to SIZE, recipe), layercomposer and anyphoto.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))
from data_photos import astronaut, grace  # noqa: E402

from layercraft.data import PrepareOptions, prepare  # noqa: E402


def build(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    a, g = astronaut(), grace()
    for k in range(n):
        kind = k % 3
        if kind == 0:
            im = a.crop((k % 40, 0, 472 + k % 40, 480)).resize((640 + 8 * k, 650 + 8 * k))
        elif kind == 1:
            im = g.crop((0, k % 50, 512, 550 + k % 50)).resize((600 + 6 * k, 644 + 6 * k))
        else:
            im = Image.new("RGB", (1200, 800), (190, 195, 200))
            im.paste(a.resize((480, 480)), (40 + k, 300))
            im.paste(ImageOps.mirror(g).resize((420, 480)), (680 - k, 300))
        (ImageOps.mirror(im) if k % 2 else im).save(folder / f"p{k:04d}.jpg", quality=92)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-side", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-data"))
    ap.add_argument("--stream", type=int, default=0, help="also time the streaming reader at this size")
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    build(args.out / "photos", args.n)
    from layercraft.data.perceive import Perception

    Perception.shared()  # model loading is not what we measure
    logs: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    counts = prepare([args.out / "photos"], args.out / "ds", PrepareOptions(max_side=args.max_side, chunk=4),
                     workers=args.workers, log=lambda s: logs.append((time.perf_counter(), s)))
    total = time.perf_counter() - t0
    perceived = [t for t, s in logs if s.startswith("chunk ")]
    perceive_s = (perceived[-1] - logs[0][0]) if perceived else total
    result = {
        "command": f"python scripts/bench_data.py --n {args.n} --workers {args.workers} --max-side {args.max_side}",
        "images": args.n, "kept": counts["images"], "workers": args.workers,
        "perception_s": round(perceive_s, 2), "finalise_s": round(total - perceive_s, 2),
        "s_per_image_per_worker": round(perceive_s * args.workers / args.n, 3),
        "images_per_s_per_core": round(args.n / perceive_s / args.workers, 3),
        "load_average_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }
    if args.stream:
        result["command"] += f" --stream {args.stream}"
        result.update(stream_speed(args.out / "ds", args.stream))
    print(json.dumps(result, indent=1))
    return 0


def stream_speed(ds: Path, size: int, batches: int = 12) -> dict:
    from layercraft.training.scenes import DatasetScenes
    from layercraft.training.tasks.canvas import CanvasStream, CanvasTaskArgs

    recipes = {"layercomposer": 1, "anyphoto": 1}
    args = CanvasTaskArgs(size=size, recipes=recipes, data={"dataset": str(ds), "streaming": True})
    stream = CanvasStream(str(ds), args, 0, 2, 1, sorted(recipes), [1.0, 1.0])
    stream._scenes = DatasetScenes(ds, cache=0)  # every photo read and cropped anew, as in a large dataset
    run = stream(0, 1, 0, 1, (0, 0, 0))
    next(run)  # opening the dataset is not what we measure
    t = time.perf_counter()
    for _ in range(batches):
        next(run)
    dt = time.perf_counter() - t
    return {"stream_size": size, "stream_examples_per_s": round(2 * batches / dt, 2)}


if __name__ == "__main__":
    raise SystemExit(main())
