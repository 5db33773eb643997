"""Loading the real pipeline for the studio: lazily, inside the generation worker, once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def pipeline_loader(model: Path | str, device: str = "auto", dtype: str = "auto",
                    offload: bool = False) -> Callable[[], Any]:
    """A function that loads the pipeline named `model` ('default', a registry name or a folder; see
    `layercraft.pipelines.loading`) onto `device` in `dtype` (`resolve_placement`) when called; `offload` keeps
    components on the CPU until used (model CPU offload, accelerators only)."""

    def load() -> Any:
        from ..pipelines.loading import load_pipeline, place_pipeline, resolve_placement

        _, torch_dtype = resolve_placement(device, dtype)
        return place_pipeline(load_pipeline(str(model), dtype=torch_dtype), device, dtype, offload)

    return load
