import numpy as np
import torch

from layercraft.world.perception.crops import PERSON_CROP, crop, crops, window
from layercraft.world.perception.identity_data import group_spec, identities, identity_crops, visible_fraction
from layercraft.world.scene import render


def test_window_keeps_aspect_and_covers_box():
    for box in [(10, 20, 30, 100), (0, 0, 80, 40), (5, 5, 6, 6)]:
        x0, y0, x1, y1 = window(box)
        assert abs((x1 - x0) / (y1 - y0) - PERSON_CROP[1] / PERSON_CROP[0]) < 1e-6
        assert x0 <= box[0] and y0 <= box[1] and x1 >= box[2] and y1 >= box[3]


def test_crop_shapes_range_and_padding():
    img = np.full((128, 128, 3), 255, np.uint8)
    c = crop(img, (100, 60, 140, 130))  # runs off the right and bottom edges
    assert c.shape == (3, *PERSON_CROP) and c.dtype == torch.float32
    assert 0 <= float(c.min()) and float(c.max()) <= 1
    assert torch.isclose(c[:, 32, -1], torch.tensor(0.5)).all()  # outside the image: mid-grey
    assert torch.isclose(c[:, 32, 10], torch.tensor(1.0)).all()
    assert crops(img, np.zeros((0, 4))).shape == (0, 3, *PERSON_CROP)


def test_crop_helper_matches_training_crops():
    """Training crops are exactly `crops(render(spec).rgb, person_boxes)` of the occlusion-free people."""
    x, y = identity_crops("val", 3, 1, seed=5)
    ids = identities("val", 3, seed=5)
    rng = np.random.default_rng([5, 3, 1, 0x1C])
    order = [ids[int(i)] for i in rng.permutation(len(ids))]
    n = int(rng.choice(3, p=[0.4, 0.35, 0.25])) + 1
    s = render(group_spec(order[:n], rng))
    keep = visible_fraction(s) >= 0.9
    expect = (crops(s.rgb, s.person_boxes[keep]) * 255).round().to(torch.uint8)
    assert torch.equal(x[: len(expect)], expect)
    assert y[: len(expect)].tolist() == [p["identity"] for p, k in zip(s.meta["people"], keep, strict=True) if k]
