"""Training on accelerate: typed configs, the flow-matching objective, tasks (stages) and the loop.

Names are imported lazily so that light users (the data recipes, the CLI's help) do not pay for
accelerate and diffusers at import time.
"""

from importlib import import_module

_EXPORTS = {
    "FlowConfig": "config", "TrainConfig": "config",
    "TASKS": "tasks", "Task": "task", "build_task": "task", "task_factory": "task", "step_seed": "task",
    "TrainResult": "trainer", "latest_checkpoint": "trainer", "train": "trainer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
