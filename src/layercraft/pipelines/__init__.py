"""Pipelines: LayeredCanvasPipeline (text + layered canvas → images), LCP-Diffusion and Layout-and-Retouch.

Names are imported lazily: listing schemes or showing CLI help does not load diffusers.
"""

from importlib import import_module

_EXPORTS = {"LayeredCanvasPipeline": "layered_canvas", "default_scheduler": "layered_canvas",
            "add_attention_lora": "lora", "save_attention_lora": "lora", "load_pipeline": "loading"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
