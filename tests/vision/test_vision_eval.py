"""Identity metrics with the real face backend, on a user case made from real photos."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from layercraft.canvas import save_project
from layercraft.eval.cases import load_cases
from layercraft.eval.loading import load_backends
from layercraft.eval.scoring import score_case
from layercraft.vision.photo_canvas import PhotoCanvasBuilder


def test_real_backends_score_identity_on_a_user_case_of_real_photos(tmp_path, analyzer, segmenter, astronaut, grace):
    target = Image.new("RGB", (1024, 512), (90, 120, 160))
    target.paste(astronaut.resize((384, 384), Image.Resampling.LANCZOS), (40, 128))
    target.paste(grace.resize((360, 422), Image.Resampling.LANCZOS), (600, 90))
    target.save(tmp_path / "target.png")
    canvas = PhotoCanvasBuilder(analyzer, segmenter).build([astronaut, grace], prior=target, size=512,
                                                          prompt="two friends")
    save_project(canvas, tmp_path / "scene.lcp")
    (tmp_path / "suite.jsonl").write_text(json.dumps({"id": "two", "project": "scene.lcp", "target": "target.png"}))
    (case,) = load_cases(str(tmp_path / "suite.jsonl"))
    backends = load_backends("real")
    assert backends.identity.name == "real-dlib-resnet-v1"

    dets = backends.detector.detect(np.asarray(target))
    assert int((dets.labels == 0).sum()) == 2 and int((dets.labels == 1).sum()) == 2

    perfect = score_case(case, target, backends)["identity"]  # the output is the target itself
    assert perfect["n_matched"] == 2 and perfect["n_missing"] == 0
    assert perfect["sim_gt"] > 0.99

    swapped = target.transpose(Image.Transpose.FLIP_LEFT_RIGHT)  # each place now shows the other person
    wrong = score_case(case, swapped, backends)["identity"]
    assert wrong["n_matched"] == 2
    assert wrong["sim_gt"] < 0.95 < perfect["sim_gt"]  # dlib cosine: ≈ 0.89 for two different people
    assert wrong["sim_ref"] < 0.95 < perfect["sim_ref"]

    # a person box without a face gets a zero row: counted as similarity 0, never dropped
    emb = backends.identity.embed(np.asarray(target), np.array([[0, 0, 30, 30], [40, 128, 424, 512]]))
    assert not emb[0].any() and abs(np.linalg.norm(emb[1]) - 1) < 1e-6
