"""Flux-family extensions for the UNet-era methods (LCP-Diffusion, Layout-and-Retouch) on
`LayercraftFluxTransformer`, plugged in through `joint_attention_kwargs` (probe, swap, extra_kv, image_hook)."""

from .adapter import LcpFluxAdapter, LcpFluxState
from .probe import TextAttentionProbe
from .swap import FluxAttentionSwap

__all__ = ["FluxAttentionSwap", "LcpFluxAdapter", "LcpFluxState", "TextAttentionProbe"]
