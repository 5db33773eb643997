"""layercraft: layout-controllable, multi-subject personalized image generation from a layered canvas."""

__version__ = "0.1.0"
