"""LCP-Diffusion pipelines (UNet and Flux family) and their canvas helpers."""

from .pipeline_flux import LcpFluxPipeline
from .pipeline_unet import LcpPipeline
from .subjects import Subject, canvas_subjects
from .tokens import find_subject_tokens

__all__ = ["LcpFluxPipeline", "LcpPipeline", "Subject", "canvas_subjects", "find_subject_tokens"]
