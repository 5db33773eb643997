"""The pieces of preparation: clustering, reference matching, duplicates, captions, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_photos import astronaut, grace
from PIL import Image, ImageOps
from typer.testing import CliRunner

from layercraft.data.captions import ModelCaptioner, template_caption
from layercraft.data.cluster import Duplicates, IdentityClusters, match_references, scenes
from layercraft.data.perceive import dhash


def test_clusters_keep_the_faces_of_one_image_apart_and_join_close_faces():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 0.1, 128), rng.normal(0, 0.1, 128)  # ≈ 1.6 apart: different people
    cl = IdentityClusters(threshold=0.4, metric="euclidean", dim=128)
    assert cl.assign(np.stack([a, b])) == [0, 1]
    assert cl.assign(np.stack([b + 0.01, a - 0.01])) == [1, 0]
    assert cl.assign(np.stack([a, a + 0.001])) in ([0, 2], [2, 0])  # one image: two identities, never one
    assert cl.counts.tolist() == [3, 2, 1]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_clusters_past_their_first_capacity_match_the_plain_online_rule(metric):
    """The kept centroid arrays (grown, compared incrementally) give the labels of the rule done plainly: each
    image's faces against every current centroid, greedy by similarity, new identities for the rest."""
    from layercraft.data.cluster import greedy_assign, similarity_matrix

    rng = np.random.default_rng(1)
    people = rng.normal(0, 0.1, (60, 128))
    images = [people[rng.choice(60, size=int(rng.integers(1, 4)), replace=False)] + rng.normal(0, 0.01, (1, 128))
              for _ in range(150)]
    threshold = 0.4 if metric == "euclidean" else 0.8
    cl = IdentityClusters(threshold, metric, 128)
    sums, counts, expected = [], [], []
    for faces in images:
        labels = [-1] * len(faces)
        if sums:
            cent = np.asarray(sums) / np.asarray(counts)[:, None]
            for r, c in greedy_assign(similarity_matrix(faces, cent, metric), threshold):
                labels[r] = c
        for r, e in enumerate(faces):
            if labels[r] < 0:
                sums.append(np.zeros(128))
                counts.append(0)
                labels[r] = len(sums) - 1
            sums[labels[r]] = sums[labels[r]] + e
            counts[labels[r]] += 1
        expected.append(labels)
    assert [cl.assign(f) for f in images] == expected
    assert cl.n == len(sums) == 60 and cl.counts.tolist() == counts
    again = IdentityClusters(threshold, metric, 128)
    again.load(cl.state())
    assert again.assign(images[0]) == cl.assign(images[0])  # resumed state: the same numbers


def test_reference_matching_is_greedy_on_iou_and_similarity():
    emb = np.eye(3, 8, dtype=np.float32)
    faces = np.stack([emb[1], emb[0] * 0.9 + emb[2] * 0.1, emb[2]])
    pairs = match_references(emb[:2], faces, "cosine", 0.5)
    assert sorted(pairs) == [(0, 1), (1, 0)]
    # with boxes, IoU breaks a tie between two equally similar faces
    same = np.stack([emb[0], emb[0]])
    pairs = match_references(emb[:1], same, "cosine", 0.5, ref_boxes=np.array([[0, 0, 10, 10]]),
                             face_boxes=np.array([[50, 50, 60, 60], [1, 1, 10, 10]]))
    assert pairs == [(0, 1)]
    assert match_references(emb[:1], emb[1:2], "cosine", 0.5) == []  # below the threshold: unmatched


def test_duplicates_by_difference_hash_and_scenes_by_shared_identities():
    a = np.asarray(astronaut())
    d = Duplicates(3)
    assert d.check(0, dhash(a)) is None
    assert d.check(1, dhash(np.asarray(Image.fromarray(a).resize((300, 300)).resize((512, 512))))) == 0
    assert d.check(2, dhash(np.asarray(ImageOps.mirror(astronaut())))) is None
    assert d.check(3, dhash(np.asarray(grace()))) is None
    assert scenes([[0], [1], [0, 1], [2], [-1]]) == [[0, 1, 2], [3], [4]]


def test_template_caption_says_count_layout_and_scene_words():
    people = [{"face_box": [300, 10, 340, 50], "description": "a person in a red top"},
              {"face_box": [10, 10, 50, 50], "description": "a person in a blue top"}]
    text = template_caption(400, people, "on a beach")
    assert text == ("a photo of two people on a beach. From left to right: a person in a blue top on the left; "
                    "a person in a red top on the right.")


def test_a_local_transformers_captioner_runs_offline(tmp_path):
    """A tiny random BLIP built from its config (BLIP's PIL image processor: no torchvision needed)."""
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "photo", "of", "person", "two", "beach"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab))
    tok = BertTokenizer(str(tmp_path / "vocab.txt"), bos_token="[DEC]")
    cfg = BlipConfig(vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                    "num_attention_heads": 2, "image_size": 32, "patch_size": 16},
                     text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64,
                                  "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 32,
                                  "bos_token_id": 5, "pad_token_id": 0, "sep_token_id": 3}, projection_dim=32)
    folder = tmp_path / "tiny-blip"
    BlipForConditionalGeneration(cfg).save_pretrained(folder)
    BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tok
                  ).save_pretrained(folder)
    cap = ModelCaptioner(folder, max_new_tokens=6)
    text = cap(astronaut())
    assert isinstance(text, str) and set(text.split()) <= set(vocab[6:])
    assert cap(astronaut()) == text  # greedy: deterministic
    from layercraft.vision.errors import VisionError

    with pytest.raises(VisionError, match="not a transformers model folder"):
        ModelCaptioner(tmp_path)


def test_cli_prepare_and_info(small_dataset, tmp_path):
    from layercraft.cli import app

    photos, ds = small_dataset
    runner = CliRunner()
    res = runner.invoke(app, ["data", "info", str(ds), "--sheet", str(tmp_path / "sheet.png")])
    assert res.exit_code == 0, res.output
    assert "4 images, 2 scenes, 2 identities, 4 layers; 0 refused" in res.output
    assert Image.open(tmp_path / "sheet.png").size[0] > 0
    for args, message in [
        (["data", "prepare", str(photos), "--out", str(ds)], "already exists: pass --resume"),
        (["data", "prepare", str(tmp_path / "missing"), "--out", str(tmp_path / "o")], "no such file or folder"),
        (["data", "prepare", str(photos), "--out", str(tmp_path / "o"), "--dup-distance", "9"], "0-3"),
        (["data", "prepare", str(photos), "--out", str(tmp_path / "o"), "--captioner", str(tmp_path)],
         "not a model folder"),
        (["data", "info", str(tmp_path)], "not a prepared dataset"),
    ]:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert json.loads((ds / "index.json").read_text())["counts"]["images"] == 4


def test_an_unexpected_error_on_one_photo_refuses_it_and_the_run_goes_on(small_dataset, tmp_path, monkeypatch):
    import importlib

    from layercraft.data import PrepareOptions, prepare

    prep = importlib.import_module("layercraft.data.prepare")  # the module (the package re-exports its function)

    photos, _ = small_dataset
    real = prep.perceive

    def flaky(item, *args):
        if item.id == 1:
            raise RuntimeError("simulated decoder crash\nsecond line")
        return real(item, *args)

    monkeypatch.setattr(prep, "perceive", flaky)
    counts = prepare([photos], tmp_path / "ds", PrepareOptions(max_side=128, chunk=2), workers=1)
    report = json.loads((tmp_path / "ds" / "report.json").read_text())
    assert counts["refusals"] == {"failed": 1} and counts["images"] == 3
    assert report["refusals"][0]["detail"] == "a2.png: RuntimeError: simulated decoder crash"
