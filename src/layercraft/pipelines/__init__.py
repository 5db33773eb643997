"""Pipelines: LayeredCanvasPipeline (text + layered canvas → images) and its LoRA helpers.

Names are imported lazily: listing schemes or showing CLI help does not load diffusers.
"""

from importlib import import_module

from .schemes import DEFAULT_ISOLATION, SCHEMES

_EXPORTS = {"LayeredCanvasPipeline": "layered_canvas", "default_scheduler": "layered_canvas",
            "add_attention_lora": "lora", "save_attention_lora": "lora", "load_pipeline": "loading"}
__all__ = ["DEFAULT_ISOLATION", "SCHEMES", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
