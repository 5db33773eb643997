"""Load what a run needs by name: the pipeline (registry spec or directory) and the perception backends.

Backends are found by name in `BACKENDS`: `world` = the trained world perception models
(`world_backends.py`); `real` = the real-photo face and person models (`layercraft.vision`);
`auto` = `world` when `layercraft.world.perception` is installed, else none —
families without a backend are then recorded as skipped, and the CLI says which.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .backends import Backends


def _world() -> Backends:
    from .world_backends import world_backends

    return world_backends()


def _real() -> Backends:
    from ..vision.eval_backends import real_backends

    return real_backends()


BACKENDS: dict[str, Callable[[], Backends]] = {"none": Backends, "world": _world, "real": _real}


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
    """A LayeredCanvasPipeline by name (see `layercraft.pipelines.loading`): `default` is the embedded
    default with its committed weights, a registry name gives fresh weights, a folder loads a save."""
    from ..pipelines.loading import load_pipeline as load

    pipe = load(model, seed=seed)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def model_resolution(model: str) -> int | None:
    """The canvas side a registry model is made for (None for a directory: keep the suite's size)."""
    if Path(model).is_dir():
        return None
    from ..models.registry import get_spec
    from ..pipelines.loading import BUILT_IN, EMBEDDED

    return get_spec(EMBEDDED if model in BUILT_IN else model).resolution
