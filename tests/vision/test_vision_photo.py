"""Reading real photos: every pixel mode, EXIF orientation, truncated and huge files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from layercraft.vision import FaceAnalyzer, PhotoError, load_photo


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=92, **kw)
    return buf.getvalue()


def _landmarks(analyzer, photo):
    faces = analyzer.detect(photo)
    assert len(faces) == 1
    return faces[0].landmarks


def test_grayscale_cmyk_and_16_bit_photos_are_read_as_rgb(analyzer, astronaut, tmp_path):
    ref = _landmarks(analyzer, astronaut)
    grey = astronaut.convert("L")
    grey.save(tmp_path / "grey.png")
    cmyk = tmp_path / "cmyk.jpg"
    cmyk.write_bytes(_jpeg(astronaut.convert("CMYK")))
    sixteen = Image.fromarray(np.asarray(grey, np.uint16) * 257)  # 16-bit grey, full range
    sixteen.save(tmp_path / "sixteen.png")
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    for name in ("grey.png", "cmyk.jpg", "sixteen.png"):
        photo = load_photo(tmp_path / name)
        assert photo.mode == "RGB" and photo.size == astronaut.size
        assert np.abs(_landmarks(analyzer, photo) - ref).max() < 4.0, name
    # 16-bit keeps its tones: the high byte is the 8-bit grey it was made from
    assert np.array_equal(np.asarray(load_photo(tmp_path / "sixteen.png"))[..., 0], np.asarray(grey))


def test_exif_orientation_is_applied(analyzer, astronaut, tmp_path):
    ref = _landmarks(analyzer, astronaut)
    stored = astronaut.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways stores
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    path.write_bytes(_jpeg(stored, exif=exif.tobytes()))
    photo = load_photo(path)
    assert photo.size == astronaut.size
    assert np.abs(_landmarks(analyzer, photo) - ref).max() < 4.0


@pytest.mark.parametrize("data, match", [
    (b"", "empty file"),
    (b"this is not an image at all", "not a recognised image"),
])
def test_unreadable_files_raise_photo_error(tmp_path, data, match):
    path = tmp_path / "bad.jpg"
    path.write_bytes(data)
    with pytest.raises(PhotoError, match=match):
        load_photo(path)


def test_truncated_file_raises_photo_error(astronaut, tmp_path):
    path = tmp_path / "cut.jpg"
    path.write_bytes(_jpeg(astronaut)[:6000])
    with pytest.raises(PhotoError, match="truncated"):
        load_photo(path)
    with pytest.raises(PhotoError, match="file not found"):
        load_photo(tmp_path / "missing.jpg")


def test_60_megapixel_photo_is_detected_at_working_size_and_mapped_back(analyzer, astronaut, tmp_path):
    ref = _landmarks(analyzer, astronaut)
    k = 15.2  # 512 · 15.2 = 7782 px a side: 60.6 MP
    big = astronaut.resize((round(512 * k), round(512 * k)), Image.Resampling.BILINEAR)
    path = tmp_path / "big.jpg"
    big.save(path, quality=80)
    del big
    photo = load_photo(path)
    assert photo.width * photo.height > 60e6
    faces = FaceAnalyzer(max_side=1600).detect(photo)
    assert len(faces) == 1
    # coordinates come back in the 60 MP photo's pixels: the reference landmarks × k, within 3 px of 512
    assert np.abs(faces[0].landmarks / k - ref).max() < 3.0
    with pytest.raises(PhotoError, match="over the limit"):
        load_photo(path, max_pixels=50_000_000)
