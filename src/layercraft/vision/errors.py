"""Errors of the real-photo perception package; each message is one line that names the fault."""

from __future__ import annotations


class VisionError(ValueError):
    """A photo or a model cannot be used; the message says why."""


class PhotoError(VisionError):
    """A photo could not be read (missing, empty, truncated, not an image, unsupported, too large)."""


class NoFaceError(VisionError):
    """No face was found where one is needed."""
