"""layercraft studio: the layered-canvas editor served locally (FastAPI back end, Konva front end)."""

from ..lazy import exports, lazy_exports

_WHERE = exports(
    config="StudioConfig",
    jobs="GenerationService JobState",
    server="create_app",
)
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
