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


# ---- streaming: data: {dataset: DIR, streaming: true, workers: N} ---------------------------------------------


@pytest.fixture(scope="module")
def one_per_shard(dataset, tmp_path_factory) -> Path:
    """The dataset re-finalised with one photo per shard (more shards than 2 ranks × 2 workers)."""
    import json
    import shutil

    from layercraft.data import prepare

    copy = tmp_path_factory.mktemp("one-per-shard") / "ds"
    shutil.copytree(dataset, copy)
    plan = json.loads((copy / "work" / "plan.json").read_text())
    plan["options"]["per_shard"] = 1
    (copy / "work" / "plan.json").write_text(json.dumps(plan))
    prepare([], copy, resume=True)
    return copy


@pytest.mark.parametrize("which", ["shard per stream", "images dealt out"])
def test_two_ranks_of_two_workers_read_every_photo_once_per_epoch(dataset, one_per_shard, which):
    ds = PreparedDataset(one_per_shard if which == "shard per stream" else dataset, split="train")
    assert (len(ds.split_shards) >= 4) == (which == "shard per stream")
    for epoch in (0, 1):
        streams = [ds.stream_order(seed=5, epoch=epoch, rank=r, world_size=2, worker=w, num_workers=2)
                   for r in range(2) for w in range(2)]
        flat = [n for s in streams for n in s]
        assert sorted(flat) == sorted(ds.indices) and all(streams)  # each photo exactly once, no stream idle
        if which == "shard per stream":  # a shard is read by one stream only
            for s in streams:
                shards = {ds.images[n]["shard"] for n in s}
                assert sum(ds.images[n]["shard"] in shards for n in ds.indices) == len(s)
    orders = [[n for r in range(2) for w in range(2)
               for n in ds.stream_order(seed=5, epoch=e, rank=r, world_size=2, worker=w, num_workers=2)]
              for e in range(3)]
    assert len({tuple(o) for o in orders}) == 3  # each epoch its own shuffle
    assert orders[0] == [n for r in range(2) for w in range(2)
                         for n in ds.stream_order(seed=5, epoch=0, rank=r, world_size=2, worker=w, num_workers=2)]


def _stream(ds_path, **task_args):
    from layercraft.training.tasks.canvas import CanvasStream, CanvasTaskArgs

    args = CanvasTaskArgs(size=32, data={"dataset": str(ds_path), "streaming": True}, **task_args)
    names = sorted(args.recipes)
    return CanvasStream(str(ds_path), args, 0, 2, 1, names, [args.recipes[n] for n in names])


def test_a_stream_resumed_after_n_photos_goes_on_with_photo_n_plus_1(one_per_shard):
    stream = _stream(one_per_shard)
    n_train = len(PreparedDataset(one_per_shard, split="train"))
    whole = stream.targets(1, 2, 1, 2, 0, 0)
    seen = [next(whole) for _ in range(n_train)]  # into the next epochs (this stream holds a quarter)
    for n in (1, 2, len(stream.scenes().ds.stream_order(seed=0, epoch=0, rank=1, world_size=2, worker=1,
                                                           num_workers=2))):
        _, epoch, consumed = seen[n - 1]
        resumed = stream.targets(1, 2, 1, 2, epoch, consumed)
        assert [next(resumed) for _ in range(3)] == seen[n:n + 3]
    epochs = [e for _, e, _ in seen]
    assert epochs == sorted(epochs) and epochs[-1] >= 2  # epochs roll over
    # batches: resumed from the position after the first batch, the second batch is the same
    run = stream(0, 1, 0, 1, (0, 0, 0))
    (_, first), (second, _) = next(run), next(run)
    again, _ = next(_stream(one_per_shard)(0, 1, 0, 1, first))
    assert [e.meta["item"] for e in again.examples] == [e.meta["item"] for e in second.examples]
    assert all(np.array_equal(a.target, b.target) and a.prompt == b.prompt
               for a, b in zip(again.examples, second.examples, strict=True))
    assert first == (0, 2, 1)


def test_streaming_recipes_take_the_streamed_photo_as_target(dataset):
    stream = _stream(dataset, recipes={"layercomposer": 1, "one_for_all": 1, "anyphoto": 1})
    ds = stream.scenes().ds
    targets = stream.targets(0, 1, 0, 1, 0, 0)
    order = [next(targets)[0] for _ in range(12)]
    run = stream(0, 1, 0, 1, (0, 0, 0))
    got = [e for _ in range(6) for e in next(run)[0].examples]
    number = {(r["scene"], r["index"]): n for n, r in enumerate(ds.images)}
    assert [number[e.meta["scene"], e.meta["index"]] for e in got] == order
    assert len({e.scheme for e in got}) >= 2  # the recipes still mix
    with pytest.raises(ValueError, match="one that takes any photo"):
        _stream(dataset, recipes={"one_for_all": 1})


def test_training_streams_with_two_workers_and_resumes_where_the_stream_stood(dataset, tmp_path):
    import json

    def cfg(out, steps, every):
        return TrainConfig(task="canvas", output_dir=out, max_steps=steps, batch_size=2, checkpoint_every=every,
                           sample_every=0, task_args={
                               "model": "tiny-test", "size": 32, "recipes": {"layercomposer": 1, "anyphoto": 1},
                               "data": {"dataset": str(dataset), "streaming": True, "workers": 2}})

    whole = train(cfg(tmp_path / "whole", 5, 3)).losses
    first = train(cfg(tmp_path / "cut", 3, 3)).losses
    state = torch.load(next((tmp_path / "cut" / "checkpoints" / "checkpoint_0").glob("custom_checkpoint_1.pkl")),
                       weights_only=False)
    assert state == {"world_size": 1, "streams": 2, "table": [[[0, 4, 2], [0, 2, 1]]]}  # batches 0, 2 | 1
    rest = train(cfg(tmp_path / "cut", 5, 3)).losses
    assert first + rest == whole and len(set(whole)) == 5  # the resumed run took exactly the batches not yet seen
    log = [json.loads(ln)["step"] for ln in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert log == [1, 2, 3, 4, 5]
