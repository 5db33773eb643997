import torch

from layercraft.world.perception.centernet import decode, targets
from layercraft.world.perception.scene_data import scene_specs, visibility
from layercraft.world.scene import render


def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a (N, 4), b (M, 4) xyxy → (N, M)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def test_targets_decode_round_trip():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 120.0], [20.0, 22.0, 36.0, 40.0], [70.0, 30.0, 110.0, 127.0]])
    t = targets(boxes, torch.tensor([0, 1, 0]), torch.tensor([True, True, False]), 2, (32, 32))
    logits = torch.logit(t["heat"].clamp(1e-4, 1 - 1e-4))[None]
    d = decode(logits, t["size"][None], t["offset"][None], threshold=0.99)[0]
    assert sorted(d["labels"].tolist()) == [0, 1]
    assert torch.allclose(d["boxes"][d["labels"].argsort()], boxes[:2], atol=1e-3)
    assert t["weight"][0, 10:30, 20:26].eq(0).all()  # the ignored person


def test_detector_finds_people_and_faces_in_fresh_held_out_renders(detector):
    for spec in scene_specs("test", 3, first=50_000):
        s = render(spec)
        pv, fv = visibility(s)
        det = detector.detect(s.rgb, threshold=0.3)[0]
        for label, gt, vis in ((0, s.person_boxes, pv >= 0.5), (1, s.face_boxes, fv >= 0.9)):
            pred = det["boxes"][det["labels"] == label]
            gt = torch.from_numpy(gt[vis]).float()
            assert len(pred) > 0
            assert (iou(gt, pred).max(1).values > 0.5).all(), (label, spec.scene)


def test_detector_resizes_other_sizes(detector):
    s = render(scene_specs("test", 1, first=50_010, size=256)[0])
    det = detector.detect(s.rgb, threshold=0.3)[0]
    persons = det["boxes"][det["labels"] == 0]
    gt = torch.from_numpy(s.person_boxes[visibility(s)[0] >= 0.5]).float()
    assert (iou(gt, persons).max(1).values > 0.5).all()
