"""The recipes on a dataset prepared from real photos (`layercraft data prepare`), and training on it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # the photo-set builder of tests/data
from data_photos import prepared  # noqa: E402

from layercraft.canvas import validate_canvas  # noqa: E402
from layercraft.data import PreparedDataset  # noqa: E402
from layercraft.training import TrainConfig, build_task, train  # noqa: E402
from layercraft.training.recipes import RECIPES  # noqa: E402
from layercraft.training.scenes import WORLD, DatasetScenes, MixedScenes, scene_source  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return prepared(tmp_path_factory.getbasetemp() / "photo-dataset")[1]


def test_locking_aware_examples_lock_target_pixels_and_take_the_others_from_another_photo(dataset):
    scenes = DatasetScenes(dataset)
    ds = PreparedDataset(dataset)
    key_identities = {r["key"]: r["identities"] for r in ds.images}
    seen_locked = seen_unlocked = 0
    for seed in range(10):
        ex = RECIPES["layercomposer"](np.random.default_rng(seed), 64, scenes=scenes)
        validate_canvas(ex.canvas, stride=16)
        target_key = f"s{ex.meta['scene']:09d}_i{ex.meta['index']:03d}"
        for layer in ex.canvas.layers:
            i = int(layer.id[1:])
            arr = np.asarray(layer.image)
            x, y = int(layer.placement.x), int(layer.placement.y)
            opaque = arr[..., 3] == 255
            source = ex.meta["layer_sources"][layer.id]
            if layer.locked:
                seen_locked += 1
                assert source == target_key
                crop = ex.target[y:y + arr.shape[0], x:x + arr.shape[1]][opaque].astype(float)
                got = arr[..., :3][opaque].astype(float)
                gain = (got * crop).sum(0) / np.maximum((crop * crop).sum(0), 1)
                assert np.abs(got - crop * gain).mean() < 6  # pixel-aligned up to the lighting gain
            else:
                seen_unlocked += 1
                identity = ex.meta["people"][i]["identity"]
                assert source != target_key and identity in key_identities[source]  # same person, other photo
        if ex.canvas.background is not None:
            assert np.asarray(ex.canvas.background.image).shape[2] == 4  # the remainder, holes where people were
        assert ex.prompt.startswith("a photo of")
    assert seen_locked >= 2 and seen_unlocked >= 2


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_reads_the_dataset_deterministically(dataset, name):
    scenes = DatasetScenes(dataset)
    a = RECIPES[name](np.random.default_rng(3), 64, scenes=scenes)
    b = RECIPES[name](np.random.default_rng(3), 64, scenes=DatasetScenes(dataset))
    assert a.target.shape == (64, 64, 3) and np.array_equal(a.target, b.target) and a.prompt == b.prompt
    assert [np.asarray(x.image).tobytes() for x in a.canvas.all_layers()] == \
        [np.asarray(x.image).tobytes() for x in b.canvas.all_layers()]
    if name == "one_for_all":
        assert len(a.meta["people"]) == 1 and all(not lay.placed for lay in a.canvas.layers)
    if name == "anyphoto":
        assert a.canvas.layers and all(lay.category.value == "face" for lay in a.canvas.layers)


def test_data_sources_from_a_config_and_their_mix(dataset):
    assert scene_source(None) is WORLD and scene_source("world") is WORLD
    assert isinstance(scene_source(str(dataset)), DatasetScenes)
    mix = scene_source([{"source": str(dataset), "weight": 3}, {"source": "world", "weight": 1}])
    assert isinstance(mix, MixedScenes) and mix.p.tolist() == [0.75, 0.25]
    kinds = [RECIPES["text_to_image"](np.random.default_rng(s), 32, scenes=mix).meta.get("source", "world")
             for s in range(12)]
    assert {"photos", "world"} <= set(kinds)


def test_training_steps_on_the_prepared_dataset_lower_the_loss_on_a_fixed_batch(dataset, tmp_path):
    cfg = TrainConfig(task="canvas", batch_size=2, seed=0, task_args={
        "model": "tiny-test", "size": 32, "data": str(dataset), "recipes": {"layercomposer": 1.0},
        "p_drop_canvas": 0.0, "p_drop_text": 0.0})
    task = build_task(cfg)
    batch = task.batch(0, 0, 2)
    assert batch.examples[0].meta["source"] == "photos"
    opt = torch.optim.Adam(task.trainable_parameters(), lr=2e-3)

    def fixed_loss() -> torch.Tensor:
        return task.loss(task.model, batch, torch.Generator().manual_seed(0))[0]

    with torch.no_grad():
        before = float(fixed_loss())
    for _ in range(8):
        opt.zero_grad()
        fixed_loss().backward()
        opt.step()
    with torch.no_grad():
        after = float(fixed_loss())
    assert after < 0.9 * before, (before, after)


def test_layercraft_train_runs_on_the_dataset_and_the_kontext_photo_config_parses(dataset, tmp_path):
    cfg = TrainConfig(task="canvas", output_dir=tmp_path / "run", max_steps=2, batch_size=2, checkpoint_every=2,
                      task_args={"model": "tiny-test", "size": 32, "data": str(dataset),
                                 "recipes": {"layercomposer": 1, "anyphoto": 1, "one_for_all": 1}})
    train(cfg)
    assert (tmp_path / "run" / "final").is_dir()
    from layercraft.training.tasks.canvas import CanvasTaskArgs

    kontext = TrainConfig.from_yaml(Path(__file__).resolve().parents[2] / "configs" / "kontext-lora-photos.yaml")
    args = CanvasTaskArgs(**kontext.task_args)
    assert args.lora_rank > 0 and args.data[0]["source"] == "/data/my-photos"
