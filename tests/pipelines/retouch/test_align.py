import numpy as np
import pytest
from PIL import Image

from layercraft.pipelines.retouch.align import aligned_reference, mask_box


def test_mask_box_has_exclusive_ends_and_none_when_empty():
    m = np.zeros((10, 12), bool)
    assert mask_box(m) is None
    m[2:5, 3:9] = True
    assert mask_box(m) == (3, 2, 9, 5)


def _reference() -> tuple[Image.Image, np.ndarray]:
    """40×40 grey photo, a 10×20 red subject centred."""
    arr = np.full((40, 40, 3), 128, np.uint8)
    arr[10:30, 15:25] = (255, 0, 0)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 15:25] = True
    return Image.fromarray(arr), mask


def test_reference_subject_moves_into_the_layout_box_scaled_to_its_height():
    ref, ref_mask = _reference()
    layout = Image.fromarray(np.full((64, 64, 3), (0, 0, 200), np.uint8))
    lay_mask = np.zeros((64, 64), bool)
    lay_mask[34:54, 4:24] = True  # box 20×20 in the lower left; the subject is 10×20 → scale 1
    out = np.asarray(aligned_reference(ref, ref_mask, layout, lay_mask))
    red = (out[..., 0] > 200) & (out[..., 2] < 50)
    assert mask_box(red) == (9, 34, 19, 54)  # centred on the box, height of the box, aspect kept
    assert (out[~red] == (0, 0, 200)).all()  # everything else is the layout image
    lay_mask[:] = False
    lay_mask[10:50, 40:60] = True  # twice as tall → twice the size
    out = np.asarray(aligned_reference(ref, ref_mask, layout, lay_mask))
    assert mask_box((out[..., 0] > 200) & (out[..., 2] < 50)) == (40, 10, 60, 50)


def test_nothing_to_align_and_mismatched_masks():
    ref, ref_mask = _reference()
    layout = Image.new("RGB", (64, 64))
    assert aligned_reference(ref, ref_mask, layout, np.zeros((64, 64), bool)) is None
    assert aligned_reference(ref, np.zeros((40, 40), bool), layout, np.ones((64, 64), bool)) is None
    with pytest.raises(ValueError, match="reference mask"):
        aligned_reference(ref, np.ones((32, 32), bool), layout, np.ones((64, 64), bool))
    with pytest.raises(ValueError, match="layout mask"):
        aligned_reference(ref, ref_mask, layout, np.ones((32, 32), bool))
