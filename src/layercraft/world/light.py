"""Lighting: a colour gain for the whole image (time of day × temperature × brightness) and a
directional shading ramp across each person."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .backgrounds import TIME_GAIN
from .spec import LightSpec

_WARM = np.array([1.1, 1.0, 0.86])
_COOL = np.array([0.88, 0.98, 1.12])


def person_gain(light: LightSpec, time: str) -> np.ndarray:
    """(3,) float RGB gain on people: time of day × colour temperature × brightness."""
    t = light.temperature
    temp = 1 + t * (_WARM - 1) if t >= 0 else 1 - t * (_COOL - 1)
    return np.asarray(TIME_GAIN[time]) * temp * light.brightness


def plate_gain(light: LightSpec) -> np.ndarray:
    """(3,) gain on the background plate (its time of day is drawn in already)."""
    t = light.temperature
    temp = 1 + t * (_WARM - 1) if t >= 0 else 1 - t * (_COOL - 1)
    return temp * light.brightness


def light_plate(plate: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 plate × per-channel gain, via a PIL lookup table (C speed)."""
    ramp = np.arange(256, dtype=np.float64)
    lut = np.concatenate([np.clip(np.rint(ramp * g), 0, 255) for g in gain]).astype(np.uint8)
    return np.asarray(Image.fromarray(plate).point(lut.tolist()))


def light_sprite(rgba: np.ndarray, gain: np.ndarray, light: LightSpec) -> np.ndarray:
    """(h, w, 4) uint8 sprite with the gain and a linear shading ramp towards the light applied."""
    h, w = rgba.shape[:2]
    rgb = rgba[..., :3].astype(np.float32) * gain.astype(np.float32)
    if light.strength > 0:
        t = np.radians(light.direction)
        xs = np.linspace(0.5, -0.5, w, dtype=np.float32) * np.float32(np.cos(t))
        ys = np.linspace(0.5, -0.5, h, dtype=np.float32) * np.float32(np.sin(t))
        rgb *= (1 + 2 * light.strength * (ys[:, None] + xs[None, :]))[..., None]
    out = np.empty_like(rgba)
    np.clip(np.rint(rgb), 0, 255, out=rgb)
    out[..., :3] = rgb
    out[..., 3] = rgba[..., 3]
    return out
