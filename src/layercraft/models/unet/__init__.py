"""UNet-only modules: the LCP-Diffusion adapter and Layout-and-Retouch attention swap as attention processors for
diffusers' `UNet2DConditionModel`. The backbone-agnostic LCP parts live in `models.lcp`, inversion in
`pipelines.retouch.ddim_inversion`."""

from .adapter import LcpAdapter
from .processors import AttentionStore, LcpCallState, LcpCrossAttnProcessor, LcpSelfAttnProcessor

__all__ = ["AttentionStore", "LcpAdapter", "LcpCallState", "LcpCrossAttnProcessor", "LcpSelfAttnProcessor"]
