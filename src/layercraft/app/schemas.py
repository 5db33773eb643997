"""The JSON the studio API speaks. Canvas state here is the Canvas minus pixels: layers name images by id."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

from ..canvas import Category, Placement
from ..canvas.limits import LIMITS, check_text
from ..canvas.types import valid_id
from ..conditioning.names import DEFAULT_SCHEME, SCHEME_NAMES

MAX_SIDE = LIMITS.max_side

Scheme = Literal[SCHEME_NAMES]  # the registry's names, as a JSON-schema enum


def _check_id(v: str, what: str) -> str:
    if not valid_id(v):
        raise ValueError(f"{what} {v!r} must be 1-64 letters, digits, '_' or '-'")
    return v


class LayerState(BaseModel):
    """One layer as the editor sees it. `image_id` names pixels held by the project."""

    model_config = ConfigDict(extra="forbid")

    id: str
    image_id: str
    name: str = ""
    placement: Placement = Field(default_factory=Placement)
    placed: StrictBool = True
    locked: StrictBool = False
    visible: StrictBool = True
    category: Category = Category.person
    descriptor: str | None = None
    image_size: tuple[int, int] | None = None  # filled in by the server; ignored when sent

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_text(v, "layer name", LIMITS.max_name_chars)

    @field_validator("descriptor")
    @classmethod
    def _descriptor(cls, v: str | None) -> str | None:
        return v if v is None else check_text(v, "layer descriptor", LIMITS.max_descriptor_chars)

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

    width: StrictInt = Field(gt=0, le=MAX_SIDE)
    height: StrictInt = Field(gt=0, le=MAX_SIDE)
    prompt: str = ""
    layers: list[LayerState] = Field(default_factory=list, max_length=LIMITS.max_layers)
    background: LayerState | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return check_text(v, "prompt", LIMITS.max_prompt_chars)


class Settings(BaseModel):
    """Generation settings kept with the project (the prompt lives on the canvas)."""

    model_config = ConfigDict(extra="forbid")

    seed: StrictInt = Field(0, ge=0, le=LIMITS.max_seed)
    steps: StrictInt = Field(28, ge=1, le=LIMITS.max_steps)
    guidance: StrictFloat = Field(3.5, ge=0.0, le=LIMITS.max_guidance)
    true_cfg: StrictFloat = Field(1.0, ge=1.0, le=LIMITS.max_guidance)  # > 1 runs a negative pass per step
    canvas_cfg: StrictFloat = Field(1.0, ge=1.0, le=LIMITS.max_guidance)  # > 1 runs an empty-canvas pass per step
    lock_blend: StrictFloat = Field(0.0, ge=0.0, le=1.0)  # fraction of steps that pull locked layers back
    scheme: Scheme = DEFAULT_SCHEME


class ProjectDoc(BaseModel):
    """What the editor autosaves: the whole canvas state plus settings."""

    model_config = ConfigDict(extra="forbid")

    canvas: CanvasState
    settings: Settings


class NewProject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: StrictInt = Field(512, gt=0, le=MAX_SIDE)
    height: StrictInt = Field(512, gt=0, le=MAX_SIDE)
    prompt: str = ""
    name: str = "untitled"

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return check_text(v, "prompt", LIMITS.max_prompt_chars)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_text(v, "project name", LIMITS.max_name_chars)


ZOrder = Literal["forward", "backward", "front", "back"]


class PlacementPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: StrictFloat | None = None
    y: StrictFloat | None = None
    scale: StrictFloat | None = None
    rotation: StrictFloat | None = None
    flip_h: StrictBool | None = None
    flip_v: StrictBool | None = None


class LayerPatch(BaseModel):
    """Fields to change on one layer; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    placement: PlacementPatch | None = None
    locked: StrictBool | None = None
    visible: StrictBool | None = None
    category: Category | None = None
    descriptor: str | None = None
    z: ZOrder | StrictInt | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return v if v is None else check_text(v, "layer name", LIMITS.max_name_chars)

    @field_validator("descriptor")
    @classmethod
    def _descriptor(cls, v: str | None) -> str | None:
        return v if v is None else check_text(v, "layer descriptor", LIMITS.max_descriptor_chars)


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

    job_id: str = Field(max_length=64)
