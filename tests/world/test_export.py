import numpy as np
import pytest

from layercraft.canvas import Category, landmarks_on_canvas, load_project, rasterize_layer, save_project
from layercraft.world.export import category_canvas, face_location_canvas, locking_aware_canvas
from layercraft.world.layout import image_spec, scene
from layercraft.world.scene import render


@pytest.fixture(scope="module")
def locked_pair():
    sc = scene(31, n_people=3)
    canvas, target = locking_aware_canvas(sc, 0, locked=[0, 2], source=1)
    return sc, canvas, target


def test_locked_layers_are_the_target_pixels_inside_the_visible_mask(locked_pair):
    _, canvas, target = locked_pair
    for i in (0, 2):
        lay = canvas.layer(f"p{i}")
        assert lay.locked
        r = rasterize_layer(lay, canvas.width, canvas.height)
        vis = target.visible[i]
        assert np.array_equal(r[..., 3] > 0, vis)
        assert np.array_equal(r[vis][:, :3], target.rgb[vis])


def test_unlocked_layer_comes_from_another_image_of_the_scene(locked_pair):
    sc, canvas, target = locked_pair
    lay = canvas.layer("p1")
    assert not lay.locked
    ident = target.meta["people"][1]["identity"]
    source = render(image_spec(sc, 1))
    j = [p["identity"] for p in source.meta["people"]].index(ident)
    x0, y0, x1, y1 = source.person_boxes[j]
    assert np.array_equal(np.asarray(lay.image), source.layers[j][y0:y1, x0:x1])
    assert not np.array_equal(np.asarray(lay.image).shape[:2], (0, 0))
    # placed over the target's person box, at the target's height
    r = rasterize_layer(lay, canvas.width, canvas.height)
    ys = np.nonzero(r[..., 3] > 0)[0]
    tb = target.person_boxes[1]
    assert abs(ys.min() - tb[1]) <= 2 and abs(ys.max() + 1 - tb[3]) <= 2
    with pytest.raises(ValueError):
        locking_aware_canvas(sc, 1, locked=[0], source=1)


def test_canvas_export_round_trips_through_project_files(locked_pair, tmp_path):
    _, canvas, target = locked_pair
    loaded = load_project(save_project(canvas, tmp_path / "scene.zip"))
    assert [lay.id for lay in loaded.all_layers()] == ["bg", "p0", "p1", "p2"]
    assert loaded.prompt == target.meta["prompt"]
    for a, b in zip(canvas.all_layers(), loaded.all_layers(), strict=True):
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
        assert a.placement == b.placement and a.locked == b.locked and a.descriptor == b.descriptor
    assert np.array_equal(np.asarray(loaded.background.image)[..., :3], target.plate)


def test_category_canvas_holds_unplaced_item_crops(tmp_path):
    s = render(image_spec(scene(44, n_people=2), 0))
    canvas = category_canvas(s, 1)
    cats = {lay.category for lay in canvas.layers}
    assert {Category.face, Category.upper_garment, Category.lower_garment} <= cats
    for lay in canvas.layers:
        assert not lay.placed and lay.descriptor
    upper = canvas.layer("upper")
    assert s.meta["people"][1]["descriptors"]["upper_garment"] == upper.descriptor
    assert np.asarray(upper.image)[..., 3].any()
    loaded = load_project(save_project(canvas, tmp_path / "pair.zip"))
    assert [lay.category for lay in loaded.layers] == [lay.category for lay in canvas.layers]


def test_face_location_canvas_puts_landmarks_on_target():
    sc = scene(50, n_people=1)
    face, target = render(image_spec(sc, 0)), render(image_spec(sc, 3))
    canvas = face_location_canvas(face, 0, target.landmarks[0], 256, 256)
    got = landmarks_on_canvas(canvas.layers[0])
    # a similarity fit across facings: the fitted points sit on the target within a few pixels
    assert np.abs(got - target.landmarks[0]).mean() < 3.0
    exact = face_location_canvas(face, 0, face.landmarks[0] * 1.5 + 10, 400, 400)
    assert np.allclose(landmarks_on_canvas(exact.layers[0]), face.landmarks[0] * 1.5 + 10, atol=0.8)
