import numpy as np
import torch

from layercraft.world.perception.identity_data import group_spec, identities
from layercraft.world.perception.weights import ASSETS
from layercraft.world.scene import render


def test_weights_are_small_safetensors():
    for name in ("identity_encoder", "detector", "attributes"):
        path = ASSETS / f"{name}.safetensors"
        assert path.exists() and path.stat().st_size <= 5_000_000
        assert (ASSETS / f"{name}.json").exists()


def test_embeddings_unit_norm(encoder):
    e = encoder.embed(torch.rand(4, 3, 64, 48))
    assert e.shape == (4, 128)
    assert torch.allclose(e.norm(dim=1), torch.ones(4), atol=1e-4)


def test_same_identity_closer_than_different_on_held_out_renders(encoder):
    """Six held-out (test-split) identities, each rendered twice under different conditions."""
    ids = identities("test", 6, seed=123)
    rng = np.random.default_rng(7)
    embs = []
    for _ in range(2):
        crops_ = []
        for i in ids:
            s = render(group_spec([i], rng))
            crops_.append(encoder.embed_boxes(s.rgb, s.person_boxes))
        embs.append(torch.cat(crops_))  # (6, D)
    cos = embs[0] @ embs[1].T  # (6, 6): diagonal = same identity
    same = cos.diag()
    off = cos[~torch.eye(6, dtype=bool)]
    assert same.min() > off.max()
    assert float(same.mean()) > 0.7 and float(off.mean()) < 0.3


def test_save_trained_writes_weights_and_a_config_that_load_back(tmp_path, monkeypatch):
    import json

    from layercraft.world.perception import weights
    from layercraft.world.perception.identity import IdentityEncoder
    from layercraft.world.perception.training import Clock, save_trained

    monkeypatch.setattr(weights.save, "__defaults__", (tmp_path,))
    model = IdentityEncoder(dim=16, widths=(8, 8, 8, 8))
    path = save_trained(model, "identity_encoder", "person crop", {"steps": 3}, Clock())
    cfg = json.loads(path.with_suffix(".json").read_text())
    assert cfg["dim"] == 16 and cfg["input"] == "person crop" and cfg["train"]["steps"] == 3
    assert IdentityEncoder.from_pretrained(tmp_path).config["dim"] == 16
