"""Loading the real pipeline for the studio: lazily, inside the generation worker, once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pipeline_loader(model: Path, device: str = "auto") -> Callable[[], Any]:
    """A function that loads `LayeredCanvasPipeline.from_pretrained(model)` onto `device` when called."""

    def load() -> Any:
        import torch

        from ..pipelines import LayeredCanvasPipeline

        target = pick_device(device)
        dtype = torch.bfloat16 if target.startswith("cuda") else torch.float32
        return LayeredCanvasPipeline.from_pretrained(str(model), torch_dtype=dtype).to(target)

    return load
