"""Pipelines: LayeredCanvasPipeline (text + layered canvas → images) and its LoRA helpers."""

from .layered_canvas import SCHEMES, LayeredCanvasPipeline, default_scheduler
from .lora import add_attention_lora, save_attention_lora

__all__ = ["SCHEMES", "LayeredCanvasPipeline", "add_attention_lora", "default_scheduler", "save_attention_lora"]
