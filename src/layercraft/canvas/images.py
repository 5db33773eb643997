"""Safe image decoding: every image that enters layercraft from outside comes through here."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .errors import ImageError, LimitError
from .limits import LIMITS

MAX_PIXELS = LIMITS.max_image_pixels  # per image; larger inputs are refused before decoding
MAX_BYTES = LIMITS.max_image_bytes
_CONVERTIBLE = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBa", "La", "CMYK", "YCbCr", "LAB", "HSV"}


def load_image(source: bytes | str | Path, name: str = "image", max_pixels: int | None = None, *,
               budget_left: int | None = None) -> Image.Image:
    """Decode an image fully and return it as RGBA, or raise ImageError naming `name` and the fault.

    The size check happens on the header, before any pixels are decoded, so decompression bombs
    cost nothing. Modes that would lose meaning in RGBA (16-bit, float) are refused, not clipped.
    `budget_left` (pixels) is what a project may still decode; an image over it raises LimitError.
    """
    max_pixels = MAX_PIXELS if max_pixels is None else max_pixels
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{name}: file not found: {path}")
        if path.stat().st_size > MAX_BYTES:
            raise ImageError(f"{name}: file is larger than {MAX_BYTES >> 20} MiB")
        data = path.read_bytes()
    else:
        data = bytes(source)
        if len(data) > MAX_BYTES:
            raise ImageError(f"{name}: data is larger than {MAX_BYTES >> 20} MiB")
    if not data:
        raise ImageError(f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise ImageError(
                    f"{name}: image is {w}×{h} = {w * h} pixels, over the limit of {max_pixels} "
                    "(decompression bomb guard)"
                )
            if budget_left is not None and w * h > budget_left:
                raise LimitError(
                    f"{name}: decoding this {w}×{h} image would take the project over its budget of "
                    f"decoded pixels (only {budget_left} left)"
                )
            if img.mode not in _CONVERTIBLE:
                raise ImageError(f"{name}: unsupported image mode {img.mode!r} (use 8-bit RGB/RGBA/L)")
            img.load()
    except (ImageError, LimitError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"{name}: image is too large (decompression bomb guard): {err}") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a recognised image format (corrupt or not an image)") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, struct.error, zlib.error) as err:
        raise ImageError(f"{name}: corrupt or truncated image ({err})") from None
    if w == 0 or h == 0:
        raise ImageError(f"{name}: image has zero size")
    return img if img.mode == "RGBA" else img.convert("RGBA")  # no second copy of an RGBA image


def save_image_atomic(img: Image.Image, path: str | Path) -> Path:
    """Write a PNG via a temp file in the same folder and a rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(encode_png(img))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def encode_png(img: Image.Image, compress_level: int = 6) -> bytes:
    """PNG bytes; compress_level 1 is often 10× faster than the default 6 for a few percent more bytes."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()
