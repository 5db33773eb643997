import numpy as np
import pytest
from PIL import Image

from layercraft.canvas import CanvasError, Category, composite, landmarks_on_canvas, rasterize
from layercraft.canvas.builders import (
    background_layer,
    category_references,
    from_references,
    location_canvas,
    location_canvas_image,
    location_layer,
)
from lc_images import noise_image, solid

# ArcFace template landmarks in a 112×112 norm crop
ARCFACE_112 = np.array([[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]])


def face_crop() -> Image.Image:
    img = noise_image(112, 112, 7)
    a = np.zeros((112, 112), np.uint8)
    yy, xx = np.mgrid[:112, :112]
    a[((xx - 56) / 50) ** 2 + ((yy - 60) / 56) ** 2 <= 1] = 200
    img.putalpha(Image.fromarray(a))
    return img


@pytest.mark.parametrize("scale, shift", [(0.5, (20.3, 31.7)), (1.37, (-10.2, 5.6)), (0.23, (100.4, 80.9))])
def test_location_layer_lands_landmarks_within_one_pixel(scale, shift):
    target = ARCFACE_112 * scale + np.array(shift)
    layer = location_layer("f", face_crop(), ARCFACE_112, target)
    placed = landmarks_on_canvas(layer)
    assert np.abs(placed - target).max() <= 0.5 + 1e-9
    assert np.linalg.norm(placed - target, axis=1).max() <= 1.0
    assert layer.category == Category.face
    assert set(np.unique(np.asarray(layer.image)[..., 3])) <= {0, 255}  # binarised alpha


def test_location_layer_rotate_and_scale_clamp():
    theta = np.radians(20)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    target = (ARCFACE_112 - 56) @ rot.T * 0.8 + 100
    layer = location_layer("f", face_crop(), ARCFACE_112, target, rotate=True)
    assert np.linalg.norm(landmarks_on_canvas(layer) - target, axis=1).max() <= 1.0
    clamped = location_layer("f", face_crop(), ARCFACE_112, ARCFACE_112 * 0.01, scale_range=(0.1, 4.0))
    assert clamped.image.size == (11, 11)
    with pytest.raises(CanvasError, match="finite"):
        location_layer("f", face_crop(), ARCFACE_112, ARCFACE_112 * np.nan)


def test_location_canvas_image_is_white_with_binary_mask():
    faces = [(face_crop(), ARCFACE_112), (face_crop(), ARCFACE_112)]
    targets = [ARCFACE_112 * 0.5 + 5, ARCFACE_112 * 0.5 + 120]
    canvas = location_canvas(faces, targets, 256, 256)
    img, mask = location_canvas_image(canvas)
    arr = np.asarray(img)
    assert tuple(arr[0, 0]) == (255, 255, 255) and tuple(arr[255, 0]) == (255, 255, 255)
    assert mask.dtype == bool and mask[int(targets[0][2][1]), int(targets[0][2][0])]
    assert mask[int(targets[1][2][1]), int(targets[1][2][0])] and not mask[150, 30]


def test_from_references_fits_images_in_boxes():
    canvas = from_references([solid(20, 40), solid(50, 10)], [(0, 0, 32, 32), (32, 32, 64, 64)], 64, 64,
                             locked=[True, False], descriptors=["a tall thing", None])
    boxes = [r.box for r in rasterize(canvas)]
    assert boxes[0] == (8, 0, 24, 32)  # contain: 16×32 centred in the box
    assert boxes[1][0] == 32 and boxes[1][2] == 64
    assert canvas.layers[0].locked and canvas.layers[0].descriptor == "a tall thing"
    with pytest.raises(CanvasError, match="2 images but 1 boxes"):
        from_references([solid(2, 2)] * 2, [(0, 0, 1, 1)], 8, 8)


def test_category_references_are_unplaced_and_background_covers():
    c = category_references({"face": solid(8, 8), "bag": solid(6, 4)}, 64, 64, descriptors={"bag": "a blue tote"})
    assert [lay.category for lay in c.layers] == [Category.face, Category.bag]
    assert not any(lay.placed for lay in c.layers) and c.layers[1].descriptor == "a blue tote"
    assert np.array_equal(np.asarray(composite(c)), np.full((64, 64, 3), 255, np.uint8))  # nothing placed
    bg = background_layer(solid(40, 20, alpha=10), 64, 32)
    r = rasterize(c.model_copy(update={"layers": [], "background": bg, "height": 32}))[0]
    assert r.box == (0, 0, 64, 32) and bg.locked and bg.category == Category.background
