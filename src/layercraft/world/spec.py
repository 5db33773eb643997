"""The small JSON-able spec that fully determines one rendered image (`render(spec)` is pure)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .backgrounds import KINDS, TIMES
from .person import EXPRESSIONS, FACINGS, POSES


def _one_of(options: tuple[str, ...], what: str):
    """A str field type that accepts only `options`, naming them in its error."""

    def check(value: str) -> str:
        if value not in options:
            raise ValueError(f"{what} must be one of {options}")
        return value

    return Annotated[str, AfterValidator(check)]


Facing = _one_of(FACINGS, "facing")
Expression = _one_of(EXPRESSIONS, "expression")
Pose = _one_of(POSES, "pose")
BackgroundKind = _one_of(KINDS, "background kind")
TimeOfDay = _one_of(TIMES, "time of day")


class PersonSpec(BaseModel):
    """One person in one image. (x, y) is the foot centre as a fraction of the canvas size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identity: int = Field(ge=0)
    x: float
    y: float
    height: float = Field(gt=0.02, le=1.5)  # figure height / canvas height, before the character's own height
    facing: Facing = "front"
    expression: Expression = "neutral"
    pose: Pose = "arms down"
    rotation: int = Field(default=0, ge=-15, le=15)  # degrees clockwise about the feet


class LightSpec(BaseModel):
    """Per-image light on top of the time of day: colour temperature, brightness, side shading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.0, ge=-1.0, le=1.0)  # -1 cool/blue … +1 warm/orange
    brightness: float = Field(default=1.0, ge=0.5, le=1.5)
    direction: float = 0.0  # degrees; 0 = light from the left, 90 = from above
    strength: float = Field(default=0.0, ge=0.0, le=0.5)  # directional shading on people


class BackgroundSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: BackgroundKind
    time: TimeOfDay = "day"
    seed: int = Field(default=0, ge=0)


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
