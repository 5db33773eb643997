import torch

from layercraft.world.perception.attributes import CROP_HEADS, SCENE_HEADS
from layercraft.world.scene import render
from layercraft.world.spec import BackgroundSpec, ImageSpec, PersonSpec

CASES = [
    ("beach", "day", "smiling", "waving", "front"),
    ("snow", "night", "surprised", "hands on hips", "left"),
    ("city street", "sunset", "eyes closed", "arms down", "right"),
    ("forest", "day", "laughing", "waving", "left"),
]


def test_attribute_shapes(attributes):
    out = attributes.classify_images(torch.zeros(2, 3, 128, 128, dtype=torch.uint8))
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (2, len(v)) for k, v in SCENE_HEADS.items()}
    out = attributes.classify_crops(torch.rand(3, 3, 64, 48), torch.rand(3, 3, 32, 32))
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (3, len(v)) for k, v in CROP_HEADS.items()}


def test_attributes_on_clear_held_out_cases(attributes):
    for i, (kind, time, expression, pose, facing) in enumerate(CASES):
        person = PersonSpec(
            identity=9_100_000 + i, x=0.5, y=0.95, height=0.7, facing=facing, expression=expression, pose=pose
        )
        spec = ImageSpec(
            width=128, height=128, background=BackgroundSpec(kind=kind, time=time, seed=900 + i), people=(person,)
        )
        s = render(spec)
        assert attributes.predict_image(s.rgb) == {"kind": kind, "time": time}
        got = attributes.predict_people(s.rgb, s.person_boxes, s.face_boxes)[0]
        assert got == {"expression": expression, "pose": pose, "facing": facing}, (i, got)
