"""The layered canvas: plain, versioned data about pixels and flags (no tensors, no tokens).

A `Canvas` holds an ordered list of `Layer`s (index 0 is the back, the last is the front) and an
optional background layer that always sits behind them. Each layer carries one subject as an RGBA
image plus how it is placed on the canvas. Serialisation (`canvas.json` in a project file) stores
everything except pixels; pixels live as PNGs beside it (see `project.py`).
"""

from __future__ import annotations

import math
import re
from enum import Enum
from typing import Annotated

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from .limits import LIMITS, check_text

FORMAT_VERSION = 1
LAYER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # always used with fullmatch


def valid_id(value: object) -> bool:
    """Whether `value` is a layer id: 1-64 letters, digits, '_' or '-', nothing else (no trailing newline)."""
    return isinstance(value, str) and LAYER_ID.fullmatch(value) is not None


class Category(str, Enum):
    person = "person"
    face = "face"
    upper_garment = "upper_garment"
    lower_garment = "lower_garment"
    bag = "bag"
    object = "object"
    background = "background"


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return value


class Placement(BaseModel):
    """Where a layer's image lands on the canvas.

    The image (w × h pixels) is flipped, scaled by `scale`, and its top-left corner put at canvas
    pixel (x, y); it is then rotated by `rotation` degrees clockwise about the centre of that
    scaled box — the convention of Krita / Photoshop free transform.
    """

    model_config = ConfigDict(extra="forbid")

    x: StrictFloat = 0.0
    y: StrictFloat = 0.0
    scale: StrictFloat = 1.0
    rotation: StrictFloat = 0.0
    flip_h: StrictBool = False
    flip_v: StrictBool = False

    @field_validator("x", "y", "scale", "rotation")
    @classmethod
    def _check_finite(cls, v: float, info) -> float:
        _finite(v, f"placement.{info.field_name}")
        if info.field_name == "scale" and not LIMITS.min_scale <= v <= LIMITS.max_scale:
            raise ValueError(f"placement.scale must be in [{LIMITS.min_scale:g}, {LIMITS.max_scale:g}], got {v:g}")
        if info.field_name in ("x", "y") and abs(v) > LIMITS.max_offset:
            raise ValueError(f"placement.{info.field_name} must be within ±{LIMITS.max_offset:g}, got {v:g}")
        return v


Point = Annotated[list[StrictFloat], Field(min_length=2, max_length=2)]


class Layer(BaseModel):
    """One subject on its own RGBA layer.

    `placed=False` marks a *category reference* (One-for-All): the subject has no position on the
    canvas and is fed to the model at its own reference resolution. `landmarks` are the ArcFace
    5 points (left eye, right eye, nose tip, left mouth corner, right mouth corner) in the layer
    image's own pixel coordinates.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_assignment=True)

    id: str
    name: str = ""
    image: Image.Image = Field(exclude=True)
    placement: Placement = Field(default_factory=Placement)
    placed: StrictBool = True
    locked: StrictBool = False
    visible: StrictBool = True
    category: Category = Category.person
    descriptor: str | None = None
    identity_refs: list[Image.Image] = Field(default_factory=list, exclude=True,
                                             max_length=LIMITS.max_identity_refs)
    landmarks: list[Point] | None = None

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not valid_id(v):
            raise ValueError(f"layer id {v!r} must be 1-64 letters, digits, '_' or '-'")
        return v

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return check_text(v, "layer name", LIMITS.max_name_chars)

    @field_validator("descriptor")
    @classmethod
    def _check_descriptor(cls, v: str | None) -> str | None:
        return v if v is None else check_text(v, "layer descriptor", LIMITS.max_descriptor_chars)

    @field_validator("image")
    @classmethod
    def _rgba(cls, v: Image.Image) -> Image.Image:
        if not isinstance(v, Image.Image):
            raise ValueError("layer image must be a PIL image")
        return v if v.mode == "RGBA" else v.convert("RGBA")

    @field_validator("identity_refs")
    @classmethod
    def _refs_rgba(cls, v: list[Image.Image]) -> list[Image.Image]:
        return [im if im.mode == "RGBA" else im.convert("RGBA") for im in v]

    @field_validator("landmarks")
    @classmethod
    def _check_landmarks(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        if len(v) != 5:
            raise ValueError(f"landmarks must be 5 points (ArcFace order), got {len(v)}")
        for p in v:
            for c in p:
                _finite(c, "landmark coordinate")
        return v

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


class Canvas(BaseModel):
    """A canvas of `width × height` pixels, layers back to front, optional background, prompt."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    version: StrictInt = FORMAT_VERSION
    width: StrictInt = Field(gt=0, le=LIMITS.max_side)
    height: StrictInt = Field(gt=0, le=LIMITS.max_side)
    layers: list[Layer] = Field(default_factory=list)  # at most LIMITS.max_layers in files, the API, validate
    background: Layer | None = None
    prompt: str = ""

    @field_validator("prompt")
    @classmethod
    def _check_prompt(cls, v: str) -> str:
        return check_text(v, "prompt", LIMITS.max_prompt_chars)

    @model_validator(mode="after")
    def _unique_ids(self) -> Canvas:
        ids = [layer.id for layer in self.all_layers()]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate layer ids: {sorted(dup)}")
        return self

    def all_layers(self) -> list[Layer]:
        """Background first (if any), then layers back to front."""
        return ([self.background] if self.background is not None else []) + list(self.layers)

    def layer(self, layer_id: str) -> Layer:
        for layer in self.all_layers():
            if layer.id == layer_id:
                return layer
        raise KeyError(f"no layer with id {layer_id!r}")

    # z-order edits, as an editor offers them; each returns nothing and mutates in place.
    def move(self, layer_id: str, to_index: int) -> None:
        layer = self.layer(layer_id)
        rest = [lay for lay in self.layers if lay.id != layer_id]
        to_index = max(0, min(to_index, len(rest)))
        self.layers = rest[:to_index] + [layer] + rest[to_index:]

    def z_index(self, layer_id: str) -> int:
        return [lay.id for lay in self.layers].index(layer_id)
