"""UNet-era modules: LCP-Diffusion adapter parts and Layout-and-Retouch attention swap, as attention processors
for diffusers' `UNet2DConditionModel` (and the shared maths the Flux path reuses)."""

from .adapter import LcpAdapter
from .fourier import fourier_box_embedding
from .grounding import GroundingAttention
from .layout_aware import LayoutAwareModule
from .processors import AttentionStore, LcpCallState, LcpCrossAttnProcessor, LcpSelfAttnProcessor
from .resampler import PerceiverResampler

__all__ = ["AttentionStore", "GroundingAttention", "LayoutAwareModule", "LcpAdapter", "LcpCallState",
           "LcpCrossAttnProcessor", "LcpSelfAttnProcessor", "PerceiverResampler", "fourier_box_embedding"]
