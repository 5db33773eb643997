"""What every route needs, held on `app.state.studio`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from .background_removal import Remover
from .config import StudioConfig
from .jobs import GenerationService
from .store import ProjectStore


@dataclass
class Studio:
    config: StudioConfig
    store: ProjectStore
    service: GenerationService
    remover: Remover | None


def studio(request: Request) -> Studio:
    return request.app.state.studio
