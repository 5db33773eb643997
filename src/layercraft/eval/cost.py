"""Cost: condition tokens per canvas, seconds per image, peak memory.

- tokens: `conditioning.token_report` on the canvas's latent token grid (canvas px / token_px per
  side; token_px = VAE factor × patch size, 16 for FLUX), pruned and unpruned.
- seconds: wall clock of the generate call (`time.perf_counter`).
- memory: the process's peak resident set so far (`getrusage`; monotone), on CUDA
  `torch.cuda.max_memory_allocated`, and, only when asked (it slows allocation-heavy code and so
  would bias the timing), the peak of Python / numpy allocations during the call (`tracemalloc`).
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from contextlib import contextmanager

import torch

from ..canvas import Canvas
from ..conditioning import token_report


def condition_tokens(canvas: Canvas, scheme: str, token_px: int = 16, prune: bool = True,
                     ref_grid: int | None = None) -> dict:
    """{'tokens': kept condition tokens, 'tokens_unpruned': without pruning, 'tokens_noisy': output tokens};
    `ref_grid`: One-for-All references at ref_grid × ref_grid tokens (None: the target grid)."""
    grid = (canvas.height // token_px, canvas.width // token_px)
    r = token_report(canvas, scheme, grid, prune=prune, ref_grid=None if ref_grid is None else (ref_grid, ref_grid))
    return {"tokens": r.total, "tokens_unpruned": r.unpruned, "tokens_noisy": r.noisy}


def _rss_peak_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 2**20 if sys.platform == "darwin" else kb / 1024  # macOS reports bytes


@contextmanager
def measure(trace_python: bool = False):
    """`with measure() as cost: ...` → cost dict filled on exit with seconds and memory peaks (MB)."""
    cost: dict = {}
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = tracemalloc.is_tracing()
    if trace_python:
        if not started:
            tracemalloc.start()
        tracemalloc.reset_peak()
    t0 = time.perf_counter()
    try:
        yield cost
    finally:
        if cuda:
            torch.cuda.synchronize()
        cost["seconds"] = time.perf_counter() - t0
        if trace_python:
            cost["py_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            if not started:
                tracemalloc.stop()
        cost["rss_peak_mb"] = _rss_peak_mb()
        if cuda:
            cost["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
