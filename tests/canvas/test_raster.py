import numpy as np
import pytest
from PIL import Image

from layercraft.canvas import Canvas, Layer, Placement, composite, landmarks_on_canvas, preview, rasterize
from layercraft.canvas.raster import rasterize_layer, visible_masks
from lc_images import noise_image, solid


def test_integer_translation_is_pixel_exact():
    img = noise_image(10, 6)
    layer = Layer(id="a", image=img, placement=Placement(x=3, y=5))
    out = rasterize_layer(layer, 32, 16)
    assert np.array_equal(out[5:11, 3:13], np.asarray(img))
    assert out[..., 3].sum() == 255 * 60


def test_layer_partly_off_canvas_is_clipped():
    img = noise_image(10, 10)
    out = rasterize_layer(Layer(id="a", image=img, placement=Placement(x=-4, y=28)), 32, 32)
    assert np.array_equal(out[28:32, 0:6], np.asarray(img)[0:4, 4:10])
    assert (out[..., 3] > 0).sum() == 4 * 6


def test_scale_rotation_and_flip_move_the_box_and_landmarks():
    img = solid(20, 10)
    layer = Layer(id="a", image=img, placement=Placement(x=10, y=20, scale=2, rotation=90),
                  landmarks=[[0, 0], [20, 0], [10, 5], [0, 10], [20, 10]])
    alpha = rasterize_layer(layer, 64, 64)[..., 3]
    ys, xs = np.nonzero(alpha > 128)
    # scaled box 40×20 centred at (30, 30); rotated 90° it is 20 wide, 40 tall around the centre
    assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == (20, 40, 10, 50)
    lm = landmarks_on_canvas(layer)
    # clockwise rotation (y down): the image's top-left corner goes to the top-right of the box
    assert np.allclose(lm[0], [40, 10]) and np.allclose(lm[2], [30, 30])
    flipped = layer.model_copy(update={"placement": Placement(x=0, y=0, flip_h=True)})
    assert np.allclose(landmarks_on_canvas(flipped)[0], [20, 0])


def test_composite_follows_z_order_and_visible_masks():
    back = Layer(id="back", image=solid(10, 10, (255, 0, 0)), placement=Placement(x=0, y=0))
    front = Layer(id="front", image=solid(10, 10, (0, 0, 255)), placement=Placement(x=5, y=5))
    c = Canvas(width=16, height=16, layers=[back, front])
    rgb = np.asarray(composite(c))
    assert tuple(rgb[7, 7]) == (0, 0, 255) and tuple(rgb[2, 2]) == (255, 0, 0) and tuple(rgb[15, 0]) == (255,) * 3
    c.move("front", 0)
    assert tuple(np.asarray(composite(c))[7, 7]) == (255, 0, 0)
    vis = visible_masks(rasterize(c))  # now back layer is in front
    assert vis[0].sum() == 100 - 25 and vis[1].sum() == 100


def test_hidden_layers_are_skipped_and_boxes_come_from_alpha():
    img = np.zeros((10, 10, 4), np.uint8)
    img[2:5, 3:9] = 255
    a = Layer(id="a", image=Image.fromarray(img, "RGBA"), placement=Placement(x=1, y=1))
    b = Layer(id="b", image=solid(4, 4), visible=False)
    r = rasterize(Canvas(width=16, height=16, layers=[a, b]))
    assert [x.id for x in r] == ["a"] and r[0].box == (4, 3, 10, 6)


def test_preview_draws_lock_state():
    a = Layer(id="a", image=solid(8, 8, (0, 200, 0)), placement=Placement(x=2, y=2), locked=True)
    b = Layer(id="b", image=solid(8, 8, (0, 200, 0)), placement=Placement(x=20, y=20))
    img = np.asarray(preview(Canvas(width=40, height=40, layers=[a, b]), min_side=40))
    assert tuple(img[9, 2]) == (220, 40, 40)  # locked outline red
    assert tuple(img[27, 20]) == (40, 110, 230)  # unlocked outline blue
    big = preview(Canvas(width=40, height=40, layers=[a, b]), min_side=100)
    assert big.size == (120, 120) and tuple(np.asarray(big)[27 * 3, 20 * 3]) == (40, 110, 230)


def test_placement_rejects_nan_and_bad_scale():
    with pytest.raises(ValueError, match="finite"):
        Placement(x=float("nan"))
    with pytest.raises(ValueError, match="scale must be in"):
        Placement(scale=0)
