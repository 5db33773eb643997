"""The small JSON-able spec that fully determines one rendered image (`render(spec)` is pure)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .backgrounds import KINDS, TIMES
from .person import EXPRESSIONS, FACINGS, POSES


class PersonSpec(BaseModel):
    """One person in one image. (x, y) is the foot centre as a fraction of the canvas size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identity: int = Field(ge=0)
    x: float
    y: float
    height: float = Field(gt=0.02, le=1.5)  # figure height / canvas height, before the character's own height
    facing: str = "front"
    expression: str = "neutral"
    pose: str = "arms down"
    rotation: int = Field(default=0, ge=-15, le=15)  # degrees clockwise about the feet

    @field_validator("facing")
    @classmethod
    def _facing(cls, v: str) -> str:
        if v not in FACINGS:
            raise ValueError(f"facing must be one of {FACINGS}")
        return v

    @field_validator("expression")
    @classmethod
    def _expression(cls, v: str) -> str:
        if v not in EXPRESSIONS:
            raise ValueError(f"expression must be one of {EXPRESSIONS}")
        return v

    @field_validator("pose")
    @classmethod
    def _pose(cls, v: str) -> str:
        if v not in POSES:
            raise ValueError(f"pose must be one of {POSES}")
        return v


class LightSpec(BaseModel):
    """Per-image light on top of the time of day: colour temperature, brightness, side shading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.0, ge=-1.0, le=1.0)  # -1 cool/blue … +1 warm/orange
    brightness: float = Field(default=1.0, ge=0.5, le=1.5)
    direction: float = 0.0  # degrees; 0 = light from the left, 90 = from above
    strength: float = Field(default=0.0, ge=0.0, le=0.5)  # directional shading on people


class BackgroundSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    time: str = "day"
    seed: int = Field(default=0, ge=0)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"background kind must be one of {KINDS}")
        return v

    @field_validator("time")
    @classmethod
    def _time(cls, v: str) -> str:
        if v not in TIMES:
            raise ValueError(f"time of day must be one of {TIMES}")
        return v


class ImageSpec(BaseModel):
    """Everything an image depends on. `people` is back to front (z-order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(default=256, ge=16, le=2048)
    height: int = Field(default=256, ge=16, le=2048)
    background: BackgroundSpec
    people: tuple[PersonSpec, ...] = ()
    light: LightSpec = LightSpec()
    scene: int | None = None
    index: int = 0  # image index within the scene
    prompt_seed: int = 0
