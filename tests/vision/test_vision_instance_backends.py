"""Person instance segmentation backends on tiny models built here: a YOLO-seg-shaped ONNX graph with
known constant outputs, and a randomly initialised Mask2Former saved from its config."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from layercraft.vision import VisionError
from layercraft.vision.instances import OnnxYoloSegPeople, TransformersInstanceSegmentation, letterbox

COCO_LIKE = {0: "person", 1: "bicycle", 2: "car"}


def constant_yolo_seg(path, *, size=640, nc=80, n=8400, names=None, person=0):
    """A YOLOv8-seg export's interface (input `images` 1×3×S×S, `output0` (1, 4 + nc + 32, N), `output1`
    (1, 32, S/4, S/4)) whose outputs are fixed arrays (the input only enters as × 0). Candidates:
    0. person A, score 0.9, box cx, cy, w, h = 72, 320, 64, 240 (model px), mask coefficient on prototype 0
       (+10 everywhere): its mask is its box;
    1. person B, score 0.8, box 360, 320, 320, 160, coefficient on prototype 1 (+10 where model x < 400 and
       y < 320, −10 elsewhere): its mask is the part of its box left of x 400 and above y 320;
    2. a duplicate of A shifted 4 px, score 0.6 (NMS removes it); 3. a car, class score 0.95 (not a person);
    4. a person at score 0.1 (under the threshold). Everything else scores 0."""
    nm, p = 32, size // 4
    pred = np.zeros((4 + nc + nm, n), np.float32)

    def cand(i, box, cls, score, coef):  # boxes written for S = 640, scaled to S
        pred[:4, i] = np.asarray(box, np.float32) * size / 640
        pred[4 + cls, i] = score
        pred[4 + nc:, i] = coef

    ca, cb = np.zeros(nm, np.float32), np.zeros(nm, np.float32)
    ca[0], cb[1] = 1.0, 1.0
    other = 2 if person != 2 else 1
    cand(0, [72, 320, 64, 240], person, 0.9, ca)
    cand(1, [360, 320, 320, 160], person, 0.8, cb)
    cand(2, [76, 324, 64, 240], person, 0.6, ca)
    cand(3, [300, 300, 100, 100], other, 0.95, ca)
    cand(4, [500, 500, 50, 50], person, 0.1, ca)
    protos = np.full((nm, p, p), -10.0, np.float32)
    protos[0] = 10.0
    protos[1, : p // 2, : 400 * p // 640] = 10.0
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"]),
             helper.make_node("Add", ["z", "c_pred"], ["output0"]),
             helper.make_node("Add", ["z", "c_protos"], ["output1"])]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero"),
             numpy_helper.from_array(pred[None], "c_pred"), numpy_helper.from_array(protos[None], "c_protos")]
    graph = helper.make_graph(nodes, "yolo-seg", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                                [1, 3, size, size])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + nc + nm, n]),
                               helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, nm, p, p])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(model, {"names": repr(names), "task": "segment"})
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_letterbox_matches_ultralytics():
    canvas, r, (left, top), (nw, nh) = letterbox(np.full((100, 200, 3), 7, np.uint8), 640)
    assert r == pytest.approx(3.2) and (left, top) == (0, 160) and (nw, nh) == (640, 320)
    assert canvas[159, 0, 0] == 114 and canvas[160, 0, 0] == 7 and canvas[479, 0, 0] == 7 and canvas[480, 0, 0] == 114


def test_onnx_yolo_seg_decodes_boxes_letterbox_and_masks(tmp_path):
    seg = OnnxYoloSegPeople(constant_yolo_seg(tmp_path / "yolov8n-seg.onnx", names=COCO_LIKE))
    assert seg.size == 640 and seg.nm == 32 and seg.person == 0
    photo = np.zeros((100, 200, 3), np.uint8)  # letterboxed ×3.2, 160 px of padding above and below
    a, b = seg(photo)  # the duplicate, the car and the weak person are gone
    assert a.score == pytest.approx(0.9) and b.score == pytest.approx(0.8)
    # cx, cy, w, h in model px → x0, y0, x1, y1 in photo px: ((x − 0) / 3.2, (y − 160) / 3.2)
    assert np.allclose(a.box, [12.5, 12.5, 32.5, 87.5]) and np.allclose(b.box, [62.5, 25.0, 162.5, 75.0])
    for inst in (a, b):
        assert inst.alpha.shape == (100, 200) and inst.alpha.dtype == np.float32
        assert 0.0 <= inst.alpha.min() and inst.alpha.max() <= 1.0
    # A: prototype 0 is +10 everywhere, so only the crop to the box bounds the mask
    assert a.alpha[50, 22] > 0.99 and a.alpha[50, 40] == 0 and a.alpha[5, 22] == 0 and a.alpha[95, 22] == 0
    assert abs(int((a.alpha > 0.5).sum()) - 20 * 75) <= 2 * (20 + 75)
    # B: prototype 1 is on for model x < 400, y < 320 → photo x < 125, y < 50 (through the letterbox)
    assert b.alpha[40, 100] > 0.99 and b.alpha[30, 70] > 0.99
    assert b.alpha[60, 100] < 0.01 and b.alpha[40, 140] < 0.01 and b.alpha[40, 50] == 0
    assert abs(int((b.alpha > 0.5).sum()) - (125 - 62.5) * (50 - 25)) <= 2 * (62.5 + 25)


def test_onnx_yolo_seg_takes_the_person_class_by_name_and_refuses_bad_files(tmp_path):
    small = constant_yolo_seg(tmp_path / "s.onnx", size=64, nc=4, n=16, person=3,
                              names={0: "car", 1: "dog", 2: "cat", 3: "person"})
    seg = OnnxYoloSegPeople(small)
    assert seg.person == 3 and seg.size == 64
    out = seg(np.zeros((64, 64, 3), np.uint8))
    assert [round(i.score, 2) for i in out] == [0.9, 0.8]
    with pytest.raises(VisionError, match="no class 'person'"):
        OnnxYoloSegPeople(constant_yolo_seg(tmp_path / "n.onnx", size=64, nc=4, n=16, names={0: "car", 1: "dog"}))
    from test_vision_backends import tiny_matting

    with pytest.raises(VisionError, match="not a YOLO-seg export"):
        OnnxYoloSegPeople(tiny_matting(tmp_path / "m.onnx"))
    with pytest.raises(VisionError, match="not found"):
        OnnxYoloSegPeople(tmp_path / "absent.onnx")


def tiny_mask2former(folder, labels=("person", "car")):
    """A randomly initialised Mask2Former (Swin backbone, one layer per stage, 32-d) saved from its config."""
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, SwinConfig

    swin = SwinConfig(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4, image_size=64,
                      out_features=["stage1", "stage2", "stage3", "stage4"])
    cfg = Mask2FormerConfig(backbone_config=swin, hidden_dim=32, mask_feature_size=32, feature_size=32,
                            encoder_layers=1, decoder_layers=2, num_queries=6, encoder_feedforward_dim=32,
                            dim_feedforward=32, num_attention_heads=2, use_pretrained_backbone=False,
                            id2label=dict(enumerate(labels)), label2id={v: k for k, v in enumerate(labels)})
    import torch

    with torch.random.fork_rng():  # seeded: random masks hover near 0.5, so an unseeded draw may find nobody
        torch.manual_seed(0)
        model = Mask2FormerForUniversalSegmentation(cfg).eval()
    with torch.no_grad():  # every query says "person" with certainty: the decoding is then fully exercised
        head = model.class_predictor
        head.weight.zero_()
        head.bias.copy_(torch.tensor([8.0] + [-8.0] * (len(labels) - 1) + [-8.0]))
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text('{"size": {"shortest_edge": 64}, "size_divisor": 32}')
    return folder


def test_transformers_instance_segmentation_on_a_tiny_random_mask2former(tmp_path):
    seg = TransformersInstanceSegmentation(tiny_mask2former(tmp_path / "m2f"), score=0.5)
    assert seg.size == 64 and seg.label == 0
    photo = np.asarray(Image.new("RGB", (90, 60), (120, 80, 40)))
    found = seg(photo)
    assert 1 <= len(found) <= 6  # one per query whose mask has any pixel ≥ 0.5
    for inst in found:
        assert inst.alpha.shape == (60, 90) and inst.alpha.dtype == np.float32
        assert 0.0 <= inst.alpha.min() and inst.alpha.max() <= 1.0 and 0 < inst.score <= 1
        x0, y0, x1, y1 = inst.box
        assert 0 <= x0 < x1 <= 90 and 0 <= y0 < y1 <= 60
    assert [i.score for i in found] == sorted((i.score for i in found), reverse=True)
    from typer.testing import CliRunner

    from layercraft.cli import app
    from layercraft.vision import PersonSegmenter

    people = PersonSegmenter(instances=seg).split(Image.fromarray(photo), faces=[])
    assert 1 <= len(people) <= len(found) and all(p.face is None for p in people)
    Image.fromarray(photo).save(tmp_path / "p.png")  # a folder given to --instances is read as transformers
    res = CliRunner().invoke(app, ["vision", "people", str(tmp_path / "p.png"), "--out", str(tmp_path / "out"),
                                   "--instances", str(tmp_path / "m2f")])
    assert res.exit_code == 0 and (tmp_path / "out" / "person-0.png").is_file(), res.output
    import torch

    with torch.no_grad():  # every query certain of the last, "no object" class: nobody
        seg.model.class_predictor.bias.copy_(torch.tensor([-8.0, -8.0, 8.0]))
    assert seg(photo) == []
    with torch.no_grad():  # every query certain of "car": nobody either
        seg.model.class_predictor.bias.copy_(torch.tensor([-8.0, 8.0, -8.0]))
    assert seg(photo) == []
    cars = tmp_path / "cars"
    shutil.copytree(tmp_path / "m2f", cars)
    cfg = json.loads((cars / "config.json").read_text())
    cfg["id2label"], cfg["label2id"] = {"0": "car", "1": "bus"}, {"car": 0, "bus": 1}
    (cars / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(VisionError, match="no label 'person'"):
        TransformersInstanceSegmentation(cars)
    with pytest.raises(VisionError, match="no config.json"):
        TransformersInstanceSegmentation(tmp_path)


def test_person_segmenter_takes_its_layers_from_the_instances_and_matches_faces(tmp_path):
    from layercraft.vision import Face, PersonSegmenter

    seg = OnnxYoloSegPeople(constant_yolo_seg(tmp_path / "y.onnx", names=COCO_LIKE))
    photo = Image.new("RGB", (400, 200))  # twice the 200×100 photo of the decoding test
    face_b = Face(box=np.array([140.0, 55.0, 180.0, 95.0]), score=0.99, landmarks=np.zeros((5, 2)))  # inside B's mask
    stray = Face(box=np.array([360.0, 160.0, 390.0, 190.0]), score=0.99, landmarks=np.zeros((5, 2)))  # on nobody
    people = PersonSegmenter(instances=seg, max_side=200).split(photo, faces=[stray, face_b])
    assert len(people) == 2  # A has no face and is still a layer; the stray face makes none
    a, b = people  # back to front: the faceless A first
    assert a.face is None and b.face is face_b
    assert np.allclose(a.box, [25 - 2 * 2, 25 - 2 * 2, 65 + 2 * 2, 175 + 2 * 2], atol=2)  # box + 2 working px pad
    assert abs(a.area - 40 * 150) < 400 and abs(b.area - 125 * 50) < 500
    layer = b.layer(photo)
    assert layer.size == photo.size and np.asarray(layer)[80, 200, 3] == 255 and np.asarray(layer)[120, 200, 3] == 0


def test_cli_people_with_instances_and_its_errors(tmp_path):
    from typer.testing import CliRunner

    from layercraft.cli import app

    Image.new("RGB", (200, 100)).save(tmp_path / "p.png")
    model = constant_yolo_seg(tmp_path / "y.onnx", names=COCO_LIKE)
    res = CliRunner().invoke(app, ["vision", "people", str(tmp_path / "p.png"), "--out", str(tmp_path / "out"),
                                   "--instances", str(model)])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "out" / "people.json").read_text())
    assert len(data["people"]) == 2 and (tmp_path / "out" / "person-1.png").is_file()
    for bad, message in [(tmp_path / "nowhere", "instance segmentation model not found"),
                         (tmp_path / "p.png", "not a usable ONNX model"), (tmp_path, "no config.json")]:
        res = CliRunner().invoke(app, ["vision", "people", str(tmp_path / "p.png"), "--out", str(tmp_path / "o2"),
                                       "--instances", str(bad)])
        assert res.exit_code == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.output
    res = CliRunner().invoke(app, ["vision", "people", str(tmp_path / "p.png"), "--out", str(tmp_path / "o3"),
                                   "--instances", str(model), "--mask-model", str(tmp_path)])
    assert res.exit_code == 2 and "exclude each other" in res.stderr
