"""Canvas checks run before any heavy work. Each failure names the layer and the problem."""

from __future__ import annotations

from typing import Literal

from .errors import CanvasError, LimitError
from .limits import LIMITS
from .raster import rasterize_layer
from .types import Canvas

MAX_LAYERS = LIMITS.max_layers
MAX_SIDE = LIMITS.max_side


def fit_size(width: int, height: int, stride: int, policy: Literal["error", "round"] = "error") -> tuple[int, int]:
    """Canvas size the model can take: a multiple of `stride` (VAE factor × patch size).

    policy="error" refuses other sizes; policy="round" returns the nearest multiple (never 0), so
    the caller can say what it changed. Nothing is ever rounded silently inside the pipeline.
    """
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise CanvasError(f"the model stride must be a positive integer, got {stride!r}")
    if width <= 0 or height <= 0:
        raise CanvasError(f"canvas size must be positive, got {width}×{height}")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise LimitError(f"canvas size {width}×{height} exceeds the maximum side of {MAX_SIDE}")
    if width % stride == 0 and height % stride == 0:
        return width, height
    if policy == "error":
        raise CanvasError(
            f"canvas size {width}×{height} is not a multiple of the model stride {stride}; "
            f"use {max(stride, round(width / stride) * stride)}×{max(stride, round(height / stride) * stride)} "
            "or pass size_policy='round'"
        )
    return max(stride, round(width / stride) * stride), max(stride, round(height / stride) * stride)


def validate_canvas(canvas: Canvas, stride: int = 16, max_layers: int = MAX_LAYERS,
                    size_policy: Literal["error", "round"] = "error") -> tuple[int, int]:
    """Raise CanvasError listing every problem found; return the (possibly rounded) size."""
    problems: list[str] = []
    size = canvas.width, canvas.height
    try:
        size = fit_size(canvas.width, canvas.height, stride, size_policy)
    except LimitError:
        raise  # nothing is rasterized at a size that is over the limits
    except CanvasError as err:
        problems.append(str(err))
    if len(canvas.layers) > max_layers:
        problems.append(f"canvas has {len(canvas.layers)} layers, more than the limit of {max_layers}")
    transparent: dict[int, bool] = {}  # by image: layers often share one
    for layer in canvas.all_layers():
        key = id(layer.image)
        if key not in transparent:  # no opaque pixel (computed without copying the image)
            transparent[key] = layer.image.getextrema()[3][1] == 0
        if transparent[key]:
            problems.append(f"layer {layer.id!r} is fully transparent")
            continue
        if layer.placed:
            if not rasterize_layer(layer, canvas.width, canvas.height)[..., 3].any():
                problems.append(f"layer {layer.id!r} lies entirely off the {canvas.width}×{canvas.height} canvas")
    if canvas.background is not None and not canvas.background.placed:
        problems.append(f"background layer {canvas.background.id!r} must be placed on the canvas")
    if problems:
        raise CanvasError("invalid canvas: " + "; ".join(problems))
    return size
