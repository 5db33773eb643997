"""Layout-and-Retouch: step-blended layout generation, then retouch by multi-source attention swap."""

from .masks import adaptive_blend_mask, cross_attention_mask
from .pipeline_flux import LayoutRetouchFluxPipeline
from .pipeline_unet import LayoutRetouchPipeline

__all__ = ["LayoutRetouchFluxPipeline", "LayoutRetouchPipeline", "adaptive_blend_mask", "cross_attention_mask"]
