"""Renderer speed on one core: images/s at 256×256 with all ground truth (layers, masks, boxes,
landmarks, parts, plate, prompt), 4 images per scene, fresh train-split scenes (cold sprite cache)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

from layercraft.world.layout import image_spec, scene  # noqa: E402
from layercraft.world.scene import render  # noqa: E402


def main(seconds: float = 10.0, size: int = 256, per_scene: int = 4) -> None:
    render(image_spec(scene(0), 0, size, size))  # warm imports
    n, people, sid, t0 = 0, 0, 1_000_000, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        sc = scene(sid)
        for k in range(per_scene):
            people += render(image_spec(sc, k, size, size)).n
            n += 1
        sid += 1
    dt = time.perf_counter() - t0
    print(f"{n / dt:.1f} images/s at {size}x{size} ({n} images, {people / n:.2f} people/image, {dt:.1f} s)")


if __name__ == "__main__":
    main()
