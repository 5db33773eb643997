"""Training stages, registered by name in `layercraft.training.TASKS`."""

from ...pipelines.lcp import train_flux  # noqa: F401,E402  (registers "lcp_flux_adapter")
from ...pipelines.retouch import dreambooth  # noqa: F401,E402  (registers "retouch_dreambooth")
from . import canvas_flow  # noqa: F401  (registers "canvas")
