"""Pipelines: LayeredCanvasPipeline (text + layered canvas → images), LCP-Diffusion and Layout-and-Retouch.

Names are imported lazily: listing schemes or showing CLI help does not load diffusers.
"""

from ..lazy import exports, lazy_exports

_WHERE = exports(
    layered_canvas="LayeredCanvasPipeline default_scheduler",
    lora="add_attention_lora save_attention_lora",
    loading="load_pipeline",
)
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
