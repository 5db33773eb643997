"""The limits every input is held to: one object, enforced by the project loader (while it streams),
by the command line and by the studio API alike.

Sizes are bytes unless named otherwise. `LIMITS` is the default everyone uses; a caller that needs
tighter bounds passes its own `Limits` (e.g. `dataclasses.replace(LIMITS, max_file_bytes=...)`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import LimitError, OptionError

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    # project files: the zip container
    max_file_bytes: int = 64 * MiB  # the .lcp file itself (on disk or uploaded)
    max_members: int = 512  # zip entries
    max_name_bytes: int = 255  # length of one entry name
    max_directory_bytes: int = 1 * MiB  # the zip's central directory
    max_member_bytes: int = 64 * MiB  # one entry once inflated, counted while inflating
    max_unpacked_bytes: int = 256 * MiB  # all entries read from one project, inflated
    max_json_bytes: int = 1 * MiB  # manifest.json, canvas.json, and a JSON request body
    max_json_depth: int = 32  # nesting of objects and lists in those
    # images
    max_image_bytes: int = 64 * MiB  # one encoded image
    max_image_pixels: int = 4096 * 4096  # one decoded image (checked on the header, before decoding)
    max_project_pixels: int = 4 * 4096 * 4096  # all distinct decoded images of one project together
    max_upload_bytes: int = 20 * MiB  # one image uploaded to the studio
    # the canvas
    max_side: int = 4096  # canvas width and height
    stride: int = 16  # canvas sides a model takes are multiples of this
    max_layers: int = 32  # layers in front of the background
    max_identity_refs: int = 8  # identity reference images per layer
    max_prompt_chars: int = 4000
    max_name_chars: int = 200  # layer and project names
    max_descriptor_chars: int = 500
    min_scale: float = 1e-3  # placement scale range
    max_scale: float = 256.0
    max_offset: float = 1e6  # |placement x| and |placement y|, canvas pixels
    # sampling
    max_steps: int = 200
    max_seed: int = 2**32 - 1
    max_guidance: float = 30.0  # distilled guidance, true CFG and canvas CFG

    def check(self, what: str, value: int, limit: int, unit: str = "") -> None:
        """Raise LimitError when `value` is over `limit`."""
        if value > limit:
            raise LimitError(f"{what} is {value}{unit}, over the limit of {limit}{unit}")


LIMITS = Limits()


def check_int(name: str, value: object, low: int, high: int) -> int:
    """`value` as an int in [low, high] (bools refused), else OptionError naming the option."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise OptionError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def check_float(name: str, value: object, low: float, high: float) -> float:
    """`value` as a finite float in [low, high] (bools and strings refused), else OptionError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise OptionError(f"{name} must be a finite number, got {value!r}")
    if not low <= value <= high:
        raise OptionError(f"{name} must be in [{low:g}, {high:g}], got {value:g}")
    return value


def check_text(value: str, what: str, max_chars: int) -> str:
    """Text that every output can carry: at most `max_chars`, no lone surrogates, no NUL."""
    if len(value) > max_chars:
        raise ValueError(f"{what} is {len(value)} characters, over the limit of {max_chars}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode text (it holds a lone surrogate)") from None
    if "\x00" in value:
        raise ValueError(f"{what} holds a NUL character")
    return value


def json_depth_ok(value: object, max_depth: int) -> bool:
    """Whether parsed JSON nests objects/lists at most `max_depth` deep (iterative, no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return False
        stack.extend((c, depth + 1) for c in children)
    return True


def one_line(message: str, max_chars: int = 2000) -> str:
    """A message safe to print as one line on any terminal: control characters and lone surrogates escaped."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
