"""LCP-Diffusion parts shared by both backbones (UNet processors in `models.unet`, Flux hooks in
`models.flux_ext`): Fourier box embedding, layout-aware module (eq. 4), grounding attention (eq. 10),
perceiver resampler (DA-Encoder), dynamic K/V (eq. 2 / 11) and box-constrained regulation (eq. 5-8)."""

from .dynamic import DynamicKV
from .fourier import fourier_box_embedding
from .grounding import GroundingAttention
from .layout_aware import LayoutAwareModule
from .regulation import box_loss, regulate, step_size
from .resampler import PerceiverResampler

__all__ = ["DynamicKV", "GroundingAttention", "LayoutAwareModule", "PerceiverResampler", "box_loss",
           "fourier_box_embedding", "regulate", "step_size"]
