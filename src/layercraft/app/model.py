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


def pipeline_loader(model: Path | str, device: str = "auto") -> Callable[[], Any]:
    """A function that loads the pipeline named `model` ('default', a registry name or a folder; see
    `layercraft.pipelines.loading`) onto `device` when called."""

    def load() -> Any:
        import torch

        from ..pipelines.loading import load_pipeline

        target = pick_device(device)
        dtype = torch.bfloat16 if target.startswith("cuda") else torch.float32
        return load_pipeline(str(model), dtype=dtype).to(target)

    return load
