"""Errors raised for bad canvases, images and project files. Messages name the problem."""


class CanvasError(ValueError):
    """A canvas, layer or project file is not usable; the message says why and where."""


class ImageError(CanvasError):
    """An image could not be read safely (corrupt, truncated, too large, unsupported mode)."""
