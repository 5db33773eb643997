"""Load what a run needs by name: the pipeline (registry spec or directory) and the perception backends.

Backends are found by name in `BACKENDS`: `world` = the trained world perception models
(`world_backends.py`); `auto` = `world` when `layercraft.world.perception` is installed, else none —
families without a backend are then recorded as skipped, and the CLI says which.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .backends import Backends

DEFAULT_MODEL = "embedded-small"  # `--model default`: the embedded CPU model (a trained directory overrides)

def _world() -> Backends:
    from .world_backends import world_backends

    return world_backends()


BACKENDS: dict[str, Callable[[], Backends]] = {"none": Backends, "world": _world}


def register_backends(name: str, factory: Callable[[], Backends]) -> None:
    BACKENDS[name] = factory


def load_backends(name: str = "auto") -> Backends:
    if name == "auto":
        import importlib.util

        name = "world" if importlib.util.find_spec("layercraft.world.perception") else "none"
    if name not in BACKENDS:
        raise ValueError(f"unknown backends {name!r}; choose from auto, {', '.join(BACKENDS)}")
    return BACKENDS[name]()


def load_pipeline(model: str, seed: int = 0):
    """A LayeredCanvasPipeline: from a directory if `model` is one, else a registry spec
    (`default` → DEFAULT_MODEL) with freshly initialised weights."""
    from ..pipelines.layered_canvas import LayeredCanvasPipeline

    if Path(model).is_dir():
        pipe = LayeredCanvasPipeline.from_pretrained(model)
    else:
        pipe = LayeredCanvasPipeline.from_spec(DEFAULT_MODEL if model == "default" else model, seed=seed)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def model_resolution(model: str) -> int | None:
    """The canvas side a registry model is made for (None for a directory: keep the suite's size)."""
    if Path(model).is_dir():
        return None
    from ..models.registry import get_spec

    return get_spec(DEFAULT_MODEL if model == "default" else model).resolution
