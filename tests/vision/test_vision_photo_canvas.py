"""Canvases from photos: faces land on the prior's faces; the canvas validates, saves, loads, generates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from layercraft.canvas import landmarks_on_canvas, load_project, preview, rasterize, save_project, validate_canvas
from layercraft.vision import VisionError
from layercraft.vision.photo_canvas import PhotoCanvasBuilder


@pytest.fixture(scope="module")
def builder(analyzer, segmenter):
    return PhotoCanvasBuilder(analyzer, segmenter)


def make_prior(astronaut, grace):
    """A layout photo: a half-size astronaut on the left, a 0.6× grace on the right (other framing)."""
    prior = Image.new("RGB", (1024, 512), (90, 120, 160))
    prior.paste(astronaut.resize((256, 256), Image.Resampling.LANCZOS), (80, 220))
    prior.paste(grace.resize((307, 360), Image.Resampling.LANCZOS), (640, 100))
    return prior


def _targets(analyzer, prior, canvas):
    faces = sorted(analyzer.detect(prior), key=lambda f: f.center[0])
    factor = np.array([canvas.width / prior.width, canvas.height / prior.height])
    return [f.landmarks * factor for f in faces]


def test_layercomposer_canvas_puts_every_face_within_2_px_of_its_target(builder, analyzer, astronaut, grace):
    prior = make_prior(astronaut, grace)
    canvas = builder.build([astronaut, grace], prior=prior, size=512, names=["astronaut", "grace"])
    assert (canvas.width, canvas.height) == (512, 256)
    targets = _targets(analyzer, prior, canvas)
    by_name = {layer.name: layer for layer in canvas.layers}
    for name, target in zip(["astronaut", "grace"], targets, strict=True):
        layer = by_name[name]
        assert layer.category.value == "person"
        err = np.linalg.norm(landmarks_on_canvas(layer) - target, axis=1)
        assert err.max() < 2.0, (name, err)
    # bigger target face in front: grace (0.6×) lies above the astronaut (0.5×)
    assert [layer.name for layer in canvas.layers] == ["astronaut", "grace"]
    # the cut-out is a person, not the photo's rectangle: its corners are transparent
    a = np.asarray(by_name["grace"].image)[..., 3]
    assert a[0, 0] == 0 and a[0, -1] == 0 and a.mean() < 200


def test_explicit_order_swaps_the_targets(builder, analyzer, astronaut, grace):
    prior = make_prior(astronaut, grace)
    canvas = builder.build([grace, astronaut], prior=prior, size=512, order=[1, 0], names=["grace", "astronaut"])
    targets = _targets(analyzer, prior, canvas)
    by_name = {layer.name: layer for layer in canvas.layers}
    assert np.linalg.norm(landmarks_on_canvas(by_name["grace"]) - targets[1], axis=1).max() < 2.0
    assert np.linalg.norm(landmarks_on_canvas(by_name["astronaut"]) - targets[0], axis=1).max() < 2.0
    with pytest.raises(VisionError, match="face"):
        builder.build([astronaut, grace, astronaut], prior=prior)  # three photos, two prior faces
    with pytest.raises(VisionError, match="distinct"):
        builder.build([astronaut, grace], prior=prior, order=[0, 0])


def test_anyphoto_location_canvas_places_aligned_faces_at_the_prior_landmarks(builder, analyzer, astronaut, grace):
    prior = make_prior(astronaut, grace)
    canvas = builder.build([astronaut, grace], prior=prior, scheme="anyphoto", size=512)
    targets = _targets(analyzer, prior, canvas)
    assert [layer.category.value for layer in canvas.layers] == ["face", "face"]
    for layer in canvas.layers:
        k = int(layer.id.removeprefix("face"))
        err = np.linalg.norm(landmarks_on_canvas(layer) - targets[k], axis=1)
        # the paper's placement: no rotation, integer offset; the faces' own shape vs the template remains
        assert err.mean() < 2.5, err
        assert np.linalg.norm(landmarks_on_canvas(layer)[:2].mean(0) - targets[k][:2].mean(0)) < 3.0


def test_row_layout_without_prior_keeps_people_apart_and_on_the_canvas(builder, astronaut, grace):
    canvas = builder.build([astronaut, grace, astronaut], size=480)
    assert canvas.width == 480 and canvas.height % 16 == 0
    boxes = [r.box for r in rasterize(canvas)]
    assert len(boxes) == 3
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left[2] <= right[0] + 1  # left to right, no overlap
    assert all(b[0] >= 0 and b[2] <= canvas.width and b[3] == canvas.height for b in boxes)
    # a big photo is stored at the size it is shown, not at its own size
    big = builder.build([astronaut.resize((2048, 2048), Image.Resampling.BICUBIC)], size=256)
    (layer,) = big.layers
    assert layer.placement.scale == 1.0 and max(layer.image.size) <= 256
    lm = landmarks_on_canvas(layer)
    assert ((lm >= 0) & (lm <= [big.width, big.height])).all()


def test_no_face_in_a_photo_is_a_clear_error(builder, astronaut, no_face):
    with pytest.raises(VisionError, match="photo 1: no face found"):
        builder.build([astronaut, no_face])
    with pytest.raises(VisionError, match="more than the limit"):
        builder.build([astronaut, astronaut], max_layers=1)


def test_photo_canvas_validates_saves_loads_previews_and_generates(builder, astronaut, grace, tmp_path):
    from layercraft.pipelines.layered_canvas import LayeredCanvasPipeline
    from layercraft.pipelines.loading import load_pipeline

    prior = make_prior(astronaut, grace)
    tiny = LayeredCanvasPipeline.from_spec("tiny-test")
    tiny.set_progress_bar_config(disable=True)
    for scheme in ("layercomposer", "anyphoto"):
        canvas = builder.build([astronaut, grace], prior=prior, scheme=scheme, size=64, prompt="two friends")
        validate_canvas(canvas, stride=16)
        path = save_project(canvas, tmp_path / f"{scheme}.lcp")
        back = load_project(path)
        assert [lay.id for lay in back.layers] == [lay.id for lay in canvas.layers]
        for a, b in zip(back.layers, canvas.layers, strict=True):
            assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
            assert np.allclose(landmarks_on_canvas(a), landmarks_on_canvas(b))
        assert preview(back).size[0] >= back.width
        out = tiny(back.prompt, back, scheme=scheme, num_inference_steps=2, output_type="pt",
                   generator=torch.Generator().manual_seed(0)).images
        assert out.shape == (1, 3, 32, 64) and torch.isfinite(out).all()
    # the embedded default model, at its own 128 px size
    canvas = builder.build([astronaut, grace], prior=prior, size=128, prompt="two friends on a beach")
    pipe = load_pipeline("default")
    pipe.set_progress_bar_config(disable=True)
    img = pipe(canvas.prompt, canvas, num_inference_steps=2, generator=torch.Generator().manual_seed(0)).images[0]
    assert img.size == (128, 64)
    assert np.asarray(img.convert("L")).std() > 1.0  # an image, not a constant
