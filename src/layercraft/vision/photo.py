"""Reading real photos: EXIF orientation, every common pixel mode, very large images.

`load_photo` returns an 8-bit RGB PIL image in the orientation a viewer shows (EXIF applied), so
that every coordinate layercraft reports is in the pixels the user sees. Grayscale, palette,
CMYK, YCbCr, 16-bit and 32-bit integer / float images are converted (16-bit by keeping the high
byte); transparency is flattened onto white. Truncated or corrupt files raise `PhotoError`.
Photos up to `MAX_PHOTO_PIXELS` (200 megapixels) are accepted; the detectors run on a copy scaled
to a working size (`working_copy`) and map their coordinates back.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import PhotoError

MAX_PHOTO_PIXELS = 200_000_000
MAX_PHOTO_BYTES = 512 * 1024 * 1024


def _to_8bit(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64) if img.mode == "I" else np.asarray(img.convert("I"), np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        arr = np.nan_to_num(arr)
        top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    img = _to_8bit(img)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def load_photo(source: bytes | str | Path | Image.Image, name: str | None = None, *,
               max_pixels: int = MAX_PHOTO_PIXELS) -> Image.Image:
    """Decode `source` (a path, bytes or a PIL image) into an upright 8-bit RGB image, or raise PhotoError."""
    if isinstance(source, Image.Image):
        try:
            return _to_rgb(ImageOps.exif_transpose(source))
        except (OSError, ValueError) as err:
            raise PhotoError(f"{name or 'image'}: cannot convert this image ({err})") from None
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or str(path)
        if not path.is_file():
            raise PhotoError(f"{name}: file not found")
        if path.stat().st_size > MAX_PHOTO_BYTES:
            raise PhotoError(f"{name}: file is larger than {MAX_PHOTO_BYTES >> 20} MiB")
        data = path.read_bytes()
    else:
        data = bytes(source)
        name = name or "image"
    if not data:
        raise PhotoError(f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w <= 0 or h <= 0:
                raise PhotoError(f"{name}: image has zero size")
            if w * h > max_pixels:
                raise PhotoError(f"{name}: image is {w}×{h} ({w * h / 1e6:.0f} MP), over the limit of "
                                 f"{max_pixels / 1e6:.0f} MP")
            old = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = max(max_pixels, old or 0)
            try:
                img.load()
            finally:
                Image.MAX_IMAGE_PIXELS = old
            return _to_rgb(ImageOps.exif_transpose(img))
    except PhotoError:
        raise
    except UnidentifiedImageError:
        raise PhotoError(f"{name}: not a recognised image format (corrupt or not an image)") from None
    except Image.DecompressionBombError as err:
        raise PhotoError(f"{name}: image is too large ({err})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise PhotoError(f"{name}: corrupt or truncated image ({err})") from None


def working_copy(img: Image.Image, max_side: int) -> tuple[Image.Image, np.ndarray]:
    """`img` scaled down so its longer side is at most `max_side`, and the (x, y) factors working / original."""
    w, h = img.size
    s = min(1.0, max_side / max(w, h))
    if s >= 1.0:
        return img, np.ones(2)
    size = max(1, round(w * s)), max(1, round(h * s))
    return img.resize(size, Image.Resampling.BOX), np.array([size[0] / w, size[1] / h])
