"""layercraft studio: the layered-canvas editor served locally (FastAPI back end, Konva front end)."""

from .config import StudioConfig
from .jobs import GenerationService, JobState
from .server import create_app

__all__ = ["GenerationService", "JobState", "StudioConfig", "create_app"]
