import numpy as np
import pytest
import torch

from layercraft.eval.attributes import accuracy, attribute_hits
from layercraft.eval.backends import Attributes
from layercraft.eval.embedding_scores import ClipScorer, DinoScorer


def test_attribute_accuracy_counts_matched_people_only():
    truth_img = {"kind": "beach", "time": "day"}
    truth_people = [{"expression": "smiling", "pose": "arms down"}, {"expression": "neutral", "pose": "waving"}]
    pred = Attributes({"kind": "beach", "time": "night"}, [{"expression": "neutral", "pose": "waving"}])
    h = attribute_hits(pred, truth_img, truth_people, gen_of=[None, 0])  # person 0 missing
    assert h == {"kind": [1, 1], "time": [0, 1], "expression": [1, 1], "pose": [1, 1]}
    h2 = attribute_hits(pred, truth_img, truth_people, gen_of=[0, None])
    acc = accuracy([h, h2])
    assert acc == {"kind": 1.0, "time": 0.0, "expression": 0.5, "pose": 0.5}


def _tokenizer(texts):
    ids = [[1] + [3 + (ord(ch) % 90) for ch in t[:12]] + [2] for t in texts]
    n = max(map(len, ids))
    return {"input_ids": torch.tensor([x + [0] * (n - len(x)) for x in ids]),
            "attention_mask": torch.tensor([[1] * len(x) + [0] * (n - len(x)) for x in ids])}


@pytest.fixture(scope="module")
def tiny_clip():
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    text = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, vocab_size=99,
                max_position_embeddings=32, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    vision = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, image_size=32,
                  patch_size=8)
    return ClipScorer(CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)), _tokenizer)


def test_clip_i_of_an_image_with_itself_is_one_and_clip_t_matches_manual(tiny_clip, rng):
    imgs = [rng.integers(0, 256, (40, 56, 3), dtype=np.uint8) for _ in range(3)]
    np.testing.assert_allclose(tiny_clip.clip_i(imgs, imgs), 1.0, atol=1e-5)
    other = [255 - im for im in imgs]
    assert (tiny_clip.clip_i(imgs, other) < 1 - 1e-4).all()
    texts = ["a beach at day", "two people", "x"]
    ct = tiny_clip.clip_t(imgs, texts)
    f_img, f_txt = tiny_clip.image_features(imgs), tiny_clip.text_features(texts)
    np.testing.assert_allclose(ct, (f_img @ f_txt.T).diagonal().numpy(), atol=1e-6)
    # each score depends only on its own pair: reversing the batch reverses the scores
    np.testing.assert_allclose(tiny_clip.clip_t(imgs[::-1], texts[::-1]), ct[::-1], atol=1e-5)


def test_dino_from_a_saved_local_dir(tmp_path, rng):
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                             image_size=32, patch_size=8)).save_pretrained(tmp_path)
    dino = DinoScorer.from_dir(tmp_path)
    imgs = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2)]
    np.testing.assert_allclose(dino.dino(imgs, imgs), 1.0, atol=1e-5)
    assert dino.dino(imgs, imgs[::-1])[0] < 1 - 1e-4
