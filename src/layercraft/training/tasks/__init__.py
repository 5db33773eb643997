"""Training stages, registered by name in `layercraft.training.TASKS`."""

from . import canvas_flow  # noqa: F401  (registers "canvas")
