"""A small deterministic stand-in for LayeredCanvasPipeline with the same call interface.

It "generates" by tinting the canvas collage with a colour drawn from the generator and drawing
the prompt, so a result depends on canvas, prompt and seed, like the real one. Steps can be slowed,
held at a gate, or made to fail, to test the queue, progress, cancellation and timeouts.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import torch
from PIL import Image, ImageDraw, ImageFilter

from layercraft.canvas import Canvas, composite


class FakePipeline:
    def __init__(self, step_delay: float = 0.0, fail_at: int | None = None, gate: threading.Event | None = None):
        self.step_delay = step_delay
        self.fail_at = fail_at
        self.gate = gate
        self.calls: list[dict] = []
        self.started = threading.Event()

    def __call__(self, *, prompt: str, canvas: Canvas, num_inference_steps: int, guidance_scale: float,
                 true_cfg_scale: float, canvas_cfg_scale: float, lock_blend: float, generator: torch.Generator,
                 scheme: str, callback_on_step_end, output_type: str = "pil", negative_prompt: str | None = None):
        self.calls.append({"prompt": prompt, "steps": num_inference_steps, "guidance": guidance_scale,
                           "true_cfg": true_cfg_scale, "canvas_cfg": canvas_cfg_scale,
                           "lock_blend": lock_blend, "scheme": scheme,
                           "layers": [layer.id for layer in canvas.layers]})
        self.started.set()
        tint = tuple(int(v) for v in torch.randint(0, 256, (3,), generator=generator))
        base = composite(canvas)
        for i in range(num_inference_steps):
            if self.gate is not None:
                self.gate.wait(timeout=30)
            if self.step_delay:
                time.sleep(self.step_delay)
            if self.fail_at == i:
                raise RuntimeError(f"out of memory at step {i}")
            callback_on_step_end(self, i, 1000 - i, {"latents": (base, tint, (i + 1) / num_inference_steps)})
        return SimpleNamespace(images=[self._render(base, tint, 1.0, prompt)])

    @staticmethod
    def _render(base: Image.Image, tint: tuple[int, int, int], progress: float, prompt: str = "") -> Image.Image:
        blurred = base.filter(ImageFilter.GaussianBlur(radius=8 * (1 - progress) + 1))
        img = Image.blend(blurred, Image.new("RGB", base.size, tint), 0.35)
        if prompt:
            ImageDraw.Draw(img).text((6, base.height - 16), prompt[:60], fill=(255, 255, 255))
        return img

    def preview_image(self, callback_kwargs: dict) -> Image.Image:
        base, tint, progress = callback_kwargs["latents"]
        small = base.resize((max(1, base.width // 4), max(1, base.height // 4)))
        return self._render(small, tint, progress)
