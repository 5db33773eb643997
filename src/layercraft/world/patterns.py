"""Garment pattern tiles: small RGBA arrays whose opaque pixels take the pattern colour."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .palette import RGB


@lru_cache(maxsize=1024)
def tile(kind: str, colour: RGB, period: int, vertical: bool = False) -> np.ndarray:
    """(th, tw, 4) uint8 tile for `kind` in striped / dotted / checked; `period` in pixels (≥ 2)."""
    p = max(2, period)
    half = p // 2
    yy, xx = np.mgrid[0:p, 0:p]
    if kind == "striped":
        on = (xx < half) if vertical else (yy < half)
    elif kind == "dotted":
        c = (p - 1) / 2
        on = (yy - c) ** 2 + (xx - c) ** 2 <= (p / 4.2) ** 2
    elif kind == "checked":
        on = (yy < half) ^ (xx < half)
    else:
        raise ValueError(f"no tile for pattern {kind!r}")
    out = np.zeros((p, p, 4), np.uint8)
    out[on] = (*colour, 255)
    return out
