"""The JSON the studio API speaks. Canvas state here is the Canvas minus pixels: layers name images by id."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..canvas import Category, Placement
from ..canvas.types import LAYER_ID
from ..canvas.validate import MAX_SIDE
from ..conditioning.schemes import DEFAULT_SCHEME, SCHEME_NAMES

Scheme = Literal[SCHEME_NAMES]  # the registry's names, as a JSON-schema enum


def _check_id(v: str, what: str) -> str:
    if not LAYER_ID.match(v):
        raise ValueError(f"{what} {v!r} must be 1-64 letters, digits, '_' or '-'")
    return v


class LayerState(BaseModel):
    """One layer as the editor sees it. `image_id` names pixels held by the project."""

    model_config = ConfigDict(extra="forbid")

    id: str
    image_id: str
    name: str = Field("", max_length=200)
    placement: Placement = Field(default_factory=Placement)
    placed: bool = True
    locked: bool = False
    visible: bool = True
    category: Category = Category.person
    descriptor: str | None = Field(None, max_length=500)
    image_size: tuple[int, int] | None = None  # filled in by the server; ignored when sent

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _check_id(v, "layer id")

    @field_validator("image_id")
    @classmethod
    def _image_id(cls, v: str) -> str:
        return _check_id(v, "image id")


class CanvasState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(gt=0, le=MAX_SIDE)
    height: int = Field(gt=0, le=MAX_SIDE)
    prompt: str = Field("", max_length=4000)
    layers: list[LayerState] = Field(default_factory=list, max_length=64)
    background: LayerState | None = None


class Settings(BaseModel):
    """Generation settings kept with the project (the prompt lives on the canvas)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, le=2**32 - 1)
    steps: int = Field(28, ge=1, le=200)
    guidance: float = Field(3.5, ge=0.0, le=30.0)
    true_cfg: float = Field(1.0, ge=1.0, le=30.0)  # > 1 runs a negative pass per step
    canvas_cfg: float = Field(1.0, ge=1.0, le=30.0)  # > 1 runs an empty-canvas pass per step
    lock_blend: float = Field(0.0, ge=0.0, le=1.0)  # fraction of steps that pull locked layers back
    scheme: Scheme = DEFAULT_SCHEME


class ProjectDoc(BaseModel):
    """What the editor autosaves: the whole canvas state plus settings."""

    model_config = ConfigDict(extra="forbid")

    canvas: CanvasState
    settings: Settings


class NewProject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(512, gt=0, le=MAX_SIDE)
    height: int = Field(512, gt=0, le=MAX_SIDE)
    prompt: str = Field("", max_length=4000)
    name: str = Field("untitled", max_length=200)


ZOrder = Literal["forward", "backward", "front", "back"]


class PlacementPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: float | None = None
    y: float | None = None
    scale: float | None = None
    rotation: float | None = None
    flip_h: bool | None = None
    flip_v: bool | None = None


class LayerPatch(BaseModel):
    """Fields to change on one layer; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    placement: PlacementPatch | None = None
    locked: bool | None = None
    visible: bool | None = None
    category: Category | None = None
    descriptor: str | None = Field(None, max_length=500)
    z: ZOrder | int | None = None


class HistoryEntry(BaseModel):
    job_id: str
    prompt: str
    settings: Settings
    width: int
    height: int
    created: float
    result_url: str


class ProjectView(BaseModel):
    id: str
    name: str
    revision: int
    canvas: CanvasState
    settings: Settings
    history: list[HistoryEntry]


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: Settings | None = None  # default: the project's saved settings


class FromResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
