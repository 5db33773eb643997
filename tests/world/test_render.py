import numpy as np

from layercraft.world.composite import alpha_over, composite_layers
from layercraft.world.identity import character
from layercraft.world.layout import image_spec, scene
from layercraft.world.person import draw_person
from layercraft.world.scene import render
from layercraft.world.spec import BackgroundSpec, ImageSpec, PersonSpec


def test_same_spec_same_pixels_and_json_round_trip():
    spec = image_spec(scene(5, n_people=3), 2)
    a = render(spec)
    b = render(ImageSpec.model_validate_json(spec.model_dump_json()))
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.layers, b.layers)
    assert a.meta == b.meta


def test_other_image_of_scene_differs_but_keeps_cast_and_background():
    sc = scene(5, n_people=3)
    a, b = image_spec(sc, 0), image_spec(sc, 1)
    assert (
        sorted(p.identity for p in a.people) == sorted(p.identity for p in b.people) == sorted(sc.identities)
    )
    assert a.background == b.background
    assert not np.array_equal(render(a).rgb, render(b).rgb)


def test_composite_of_plate_and_layers_is_the_image(crowd):
    assert np.array_equal(composite_layers(crowd.plate, crowd.layers), crowd.rgb)


def test_visible_mask_is_alpha_minus_occluders_in_front(crowd):
    opaque = crowd.layers[..., 3] >= 128
    assert crowd.visible.any(axis=(1, 2)).all()
    occluded = False
    for i in range(crowd.n):
        front = opaque[i + 1 :].any(0)
        assert np.array_equal(crowd.visible[i], opaque[i] & ~front)
        occluded |= bool((opaque[i] & front).any())
    assert occluded, "the heavy-occlusion scene should hide someone"
    # where a layer is opaque and nothing in front has any alpha, the image shows the layer exactly
    i = 0
    full = crowd.visible[i] & (crowd.layers[i][..., 3] == 255) & ~(crowd.layers[1:, ..., 3] > 0).any(0)
    assert np.array_equal(crowd.rgb[full], crowd.layers[i][full][:, :3])


def test_boxes_match_alpha_and_landmarks_lie_in_face_boxes(crowd):
    for i in range(crowd.n):
        ys, xs = np.nonzero(crowd.layers[i][..., 3])
        assert tuple(crowd.person_boxes[i]) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        x0, y0, x1, y1 = crowd.face_boxes[i]
        lm = crowd.landmarks[i]
        assert ((lm[:, 0] >= x0) & (lm[:, 0] <= x1) & (lm[:, 1] >= y0) & (lm[:, 1] <= y1)).all()
        assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # image-left eye / mouth corner first
        assert (
            lm[2, 1] > lm[:2, 1].max() and lm[3:, 1].min() > lm[2, 1] - 1
        )  # nose below eyes, mouth below nose
        face = crowd.parts[i, 0]
        assert face.any() and not (face & crowd.parts[i, 1]).any()


def test_alpha_over_is_exact_at_the_extremes():
    dst = np.full((1, 3, 3), 77, np.uint8)
    src = np.array([[[200, 10, 5, 0], [200, 10, 5, 255], [255, 255, 255, 128]]], np.uint8)
    out = alpha_over(dst, src)
    assert out[0, 0].tolist() == [77, 77, 77] and out[0, 1].tolist() == [200, 10, 5]
    assert out[0, 2].tolist() == [round((255 * 128 + 77 * 127) / 255)] * 3


def test_random_identities_differ_visibly():
    diffs = []
    for a, b in [(1, 2), (10, 11), (1000, 5_000_000), (42, 43), (7, 77)]:
        sa = draw_person(character(a), "front", "neutral", "arms down", 128).rgba.astype(int)
        sb = draw_person(character(b), "front", "neutral", "arms down", 128).rgba.astype(int)
        diffs.append(np.abs(sa - sb).mean())
    same = draw_person(character(1), "left", "smiling", "waving", 128).rgba.astype(int)
    base = draw_person(character(1), "front", "neutral", "arms down", 128).rgba.astype(int)
    assert min(diffs) > 12, diffs
    assert np.abs(same - base).mean() < min(diffs)


def test_people_fit_the_canvas_and_prompt_names_counts():
    for sid in range(20, 26):
        s = render(image_spec(scene(sid), 0, 128, 128))
        assert s.rgb.shape == (128, 128, 3)
        assert (s.person_boxes[:, 1] >= 0).all() and (s.face_boxes[:, 3] > s.face_boxes[:, 1]).all()
        n = s.n
        word = [
            "one person",
            "two people",
            "three people",
            "four people",
            "five people",
            "six people",
            "seven people",
            "eight people",
        ][n - 1]
        assert word in s.meta["prompt"].lower()


def test_empty_scene_is_the_plate():
    s = render(ImageSpec(background=BackgroundSpec(kind="desert", time="sunset", seed=3)))
    assert np.array_equal(s.rgb, s.plate) and s.n == 0


def test_spec_rejects_unknown_attributes():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        PersonSpec(identity=1, x=0.5, y=0.9, height=0.5, expression="grumpy")
