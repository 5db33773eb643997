"""Local-model backends, tested on tiny randomly initialised models built here; the model folder's errors."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from layercraft.vision import FaceAnalyzer, ModelMissingError, PersonSegmenter, SubjectCutout, VisionError
from layercraft.vision.assets import ASSETS, ENV_VAR, missing_models, model_path
from layercraft.vision.backends import OnnxFaceDetector, OnnxFaceEmbedder, TransformersPersonMask


def _onnx(path, nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def tiny_arcface(path, dim=16, seed=0):
    """N×3×112×112 → conv 8×8 stride 8 → flatten → dim: the shape of an ArcFace export, random weights."""
    rng = np.random.default_rng(seed)
    inits = {"w": rng.normal(0, 0.1, (4, 3, 8, 8)).astype(np.float32),
             "fc": rng.normal(0, 0.05, (4 * 14 * 14, dim)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["input.1", "w"], ["c"], strides=[8, 8]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("MatMul", ["f", "fc"], ["emb"])]
    return _onnx(path, nodes, [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, 112, 112])],
                 [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["N", dim])], inits)


def tiny_matting(path, seed=0):
    """1×3×32×32 → 3×3 conv → sigmoid: the contract of a salient-object / matting export."""
    rng = np.random.default_rng(seed)
    inits = {"w": rng.normal(0, 0.3, (1, 3, 3, 3)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["img", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c"], ["a"])]
    return _onnx(path, nodes, [helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 3, 32, 32])],
                 [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 1, 32, 32])], inits)


def test_onnx_face_embedder_on_a_tiny_random_model(tmp_path, analyzer, astronaut, grace):
    emb = OnnxFaceEmbedder(tiny_arcface(tmp_path / "arc.onnx"), threshold=0.999)
    fa = FaceAnalyzer(detector=analyzer.detector, embedder=emb)
    (face,) = fa.detect(astronaut, embed=True)
    assert face.embedding.shape == (16,) and abs(np.linalg.norm(face.embedding) - 1) < 1e-5
    # the model sees the aligned crop: the embedding is exactly what the model gives for that crop
    again = emb.embed(np.asarray(astronaut), [face])[0]
    assert np.allclose(again, face.embedding, atol=1e-6)
    s, same = fa.compare(astronaut, astronaut)
    assert s == pytest.approx(1.0, abs=1e-6) and same
    s2, _ = fa.compare(astronaut, grace)
    assert s2 < s


def test_transformers_person_mask_folder_on_a_tiny_random_segformer(tmp_path, analyzer, astronaut):
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    cfg = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                          patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                          decoder_hidden_size=16, id2label={0: "background", 1: "person"},
                          label2id={"background": 0, "person": 1})
    SegformerForSemanticSegmentation(cfg).save_pretrained(tmp_path / "seg")
    (tmp_path / "seg" / "preprocessor_config.json").write_text('{"size": {"height": 64, "width": 64}}')
    mask = TransformersPersonMask(tmp_path / "seg")
    assert mask.size == 64 and mask.channel == 1
    prob = mask(np.asarray(astronaut))
    assert prob.shape == (512, 512) and 0.0 <= prob.min() and prob.max() <= 1.0
    people = PersonSegmenter(analyzer, segmenter=mask, refine=False).split(astronaut)
    assert len(people) == 1 and people[0].face is not None
    assert people[0].layer(astronaut).size == astronaut.size
    with pytest.raises(VisionError, match="no label 'dog'"):
        TransformersPersonMask(tmp_path / "seg", label="dog")
    with pytest.raises(VisionError, match="no config.json"):
        TransformersPersonMask(tmp_path)


def test_subject_cutout_with_a_local_onnx_model_and_a_broken_file(tmp_path, astronaut):
    cut = SubjectCutout(tiny_matting(tmp_path / "m.onnx"))
    assert cut.size == 32
    out = cut(astronaut)
    assert out.size == astronaut.size and out.mode == "RGBA"
    a = np.asarray(out)[..., 3]
    assert a.min() < 20 and a.max() > 235  # the 32² map, stretched to the full range, resized
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(VisionError, match="not a usable ONNX model"):
        SubjectCutout(tmp_path / "broken.onnx")
    with pytest.raises(VisionError, match="not found"):
        SubjectCutout(tmp_path / "absent.onnx")


def test_missing_bundled_model_names_the_command_that_installs_it(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert sorted(missing_models()) == sorted(ASSETS)
    with pytest.raises(ModelMissingError, match="layercraft vision install-models"):
        model_path("u2netp.onnx")
    with pytest.raises(ModelMissingError):
        SubjectCutout()


def test_bundled_models_are_installed_and_match_their_checksums():
    import hashlib

    assert missing_models() == []
    for name, asset in ASSETS.items():
        assert hashlib.sha256(model_path(name).read_bytes()).hexdigest() == asset.sha256, name



def test_cli_takes_the_local_models(tmp_path, astronaut):
    from typer.testing import CliRunner

    from layercraft.cli import app

    a = tmp_path / "a.png"
    astronaut.save(a)
    res = CliRunner().invoke(app, ["vision", "compare", str(a), str(a), "--embedder",
                                   str(tiny_arcface(tmp_path / "arc.onnx")), "--threshold", "0.99"])
    assert res.exit_code == 0 and "similarity 1.000 (onnx:arc.onnx, threshold 0.99): same" in res.stdout, res.output
    res = CliRunner().invoke(app, ["vision", "people", str(a), "--out", str(tmp_path / "p"), "--mask-model",
                                   str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "not a transformers model folder" in res.stderr


def constant_scrfd(path, size=64):
    """An SCRFD-shaped export (9 outputs, strides 8/16/32, 2 anchors) whose outputs are fixed arrays:
    one confident anchor at stride 8, cell (x=3, y=2), anchor 1, and nothing else."""
    outs, inits, nodes = [], {}, [helper.make_node("ReduceMean", ["img"], ["m"], keepdims=0),
                                  helper.make_node("Mul", ["m", "zero"], ["z"])]
    inits["zero"] = np.zeros((), np.float32)
    n = {s: (size // s) ** 2 * 2 for s in (8, 16, 32)}
    hit = (2 * (size // 8) + 3) * 2 + 1
    values = {}
    for s in (8, 16, 32):
        sc = np.full((n[s], 1), 0.01, np.float32)
        values[f"score{s}"] = sc
        values[f"bbox{s}"] = np.ones((n[s], 4), np.float32)
        values[f"kps{s}"] = np.zeros((n[s], 10), np.float32)
    values["score8"][hit] = 0.95
    values["bbox8"][hit] = [1.0, 1.5, 2.0, 2.5]  # left, top, right, bottom distances in strides
    values["kps8"][hit] = [-0.5, -0.5, 0.5, -0.5, 0.0, 0.0, -0.4, 0.6, 0.4, 0.6]
    for key in [f"{kind}{s}" for kind in ("score", "bbox", "kps") for s in (8, 16, 32)]:
        inits["c_" + key] = values[key]
        nodes.append(helper.make_node("Add", ["z", "c_" + key], [key]))
        outs.append(helper.make_tensor_value_info(key, TensorProto.FLOAT, list(values[key].shape)))
    return _onnx(path, nodes, [helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 3, size, size])], outs,
                 inits)


def test_onnx_scrfd_detector_decodes_boxes_and_landmarks(tmp_path):
    det = OnnxFaceDetector(constant_scrfd(tmp_path / "scrfd.onnx"))
    assert det.size == 64 and det.kps and det.strides == [8, 16, 32]
    photo = np.zeros((128, 96, 3), np.uint8)  # the longer side, 128, is scaled to 64: factor 0.5
    out = det.detect(photo)
    assert len(out.boxes) == 1 and out.scores[0] == pytest.approx(0.95)
    cx, cy = 3 * 8, 2 * 8  # the cell centre at stride 8, in model pixels
    expected = np.array([cx - 8, cy - 12, cx + 16, cy + 20]) / 0.5
    assert np.allclose(out.boxes[0], np.clip(expected, 0, [96, 128, 96, 128]))
    assert np.allclose(out.landmarks[0, 0], np.array([cx - 4, cy - 4]) / 0.5)
    assert np.allclose(out.landmarks[0, 4], np.array([cx + 3.2, cy + 4.8]) / 0.5)
    faces = FaceAnalyzer(detector=det).detect(photo, min_score=0.5)  # behind the same interface
    assert len(faces) == 1 and faces[0].landmarks.shape == (5, 2)
    from typer.testing import CliRunner

    from layercraft.cli import app

    Image.fromarray(photo).save(tmp_path / "p.png")
    res = CliRunner().invoke(app, ["vision", "faces", str(tmp_path / "p.png"), "--detector",
                                   str(tmp_path / "scrfd.onnx")])
    assert res.exit_code == 0, res.output
    assert np.allclose(json.loads(res.stdout)["faces"][0]["box"], out.boxes[0], atol=0.01)
