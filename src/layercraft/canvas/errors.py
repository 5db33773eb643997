"""Typed refusals. Every input layercraft refuses raises one of these; messages name the problem.

The command line prints any `Refusal` as one line on stderr and exits with code 2; the studio API
answers it with a 4xx JSON error (`LimitError` → 413, `ImageError` → 415, the rest → 422).
"""


class Refusal(ValueError):
    """An input was refused (bad value, bad file, over a limit); the message says why and where."""


class CanvasError(Refusal):
    """A canvas, layer or project file is not usable; the message says why and where."""


class ImageError(CanvasError):
    """An image could not be read safely (corrupt, truncated, too large, unsupported mode)."""


class ProjectFileError(CanvasError):
    """A project file's container is corrupt, truncated or uses a feature it may not (encryption, bzip2)."""


class LimitError(CanvasError):
    """An input is over one of the limits in `layercraft.canvas.limits.LIMITS`."""


class OptionError(Refusal):
    """A command-line or API option has a value that cannot be used (not finite, out of range, unknown)."""
