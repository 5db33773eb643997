"""Tiny Flux-family LCP pipeline on the `tiny-test` registry model (random weights, no download)."""

from __future__ import annotations

from layercraft.denoise import Switches
from layercraft.pipelines.lcp import LcpFluxPipeline
from lc_subjects import canvas

PROMPT = "a dog and a cat on the beach"


def flux_pipe(seed: int = 0) -> LcpFluxPipeline:
    pipe = LcpFluxPipeline.from_spec("tiny-test", seed=seed)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def flux_inputs(pipe, prompt: str = PROMPT, cv=None):
    cv = cv or canvas()
    return cv, pipe.build_inputs([prompt], [cv], "layercomposer", Switches())
