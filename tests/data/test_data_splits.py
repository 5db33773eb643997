"""At most K identities per scene, and the held-out split by scene (`--max-identities`, `--holdout`)."""

from __future__ import annotations

import json
import shutil
import tarfile

import numpy as np
import pytest
from data_photos import three_people
from typer.testing import CliRunner

from layercraft.data import PreparedDataset, prepare
from layercraft.data.cluster import cap_scene_identities, holdout_scenes, scenes


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """a.png (A), ag.png (A, G), c.png (C), g.png (G), gc.png (G, C), at most 2 identities per scene, half held out."""
    return three_people(tmp_path_factory.mktemp("three"), max_identities=2, holdout=0.5)


def test_the_group_photo_that_joins_too_many_identities_goes_largest_group_first():
    images = [[0], [1], [0, 1], [2], [1, 2], [3, 4, 5], [-1]]
    dropped = cap_scene_identities(images, 2)
    assert dropped == {5: 3, 4: 3}  # the 3-person photo, then of the two pairs the later one
    kept = [ids for n, ids in enumerate(images) if n not in dropped]
    for scene in scenes(kept):
        assert len({i for n in scene for i in kept[n] if i >= 0}) <= 2
    assert cap_scene_identities(images, 6) == {}
    assert cap_scene_identities([[0], [0, 1], [1, 2], [2]], 1) == {2: 3, 1: 2}  # then the remaining pair


def test_holdout_is_a_stable_hash_of_the_scene_key():
    keys = [f"identity:{i}" for i in range(2000)]
    held = holdout_scenes(keys, 0.2)
    assert 0.17 < np.mean(held) < 0.23
    # a scene's split does not depend on the other scenes (nor their order)
    again = holdout_scenes(keys[::-1][:700], 0.2)
    assert again == held[::-1][:700]
    assert holdout_scenes(keys[:50], 0.0) == [False] * 50
    # two scenes or more: each split gets one at least
    assert sum(holdout_scenes(["identity:1", "identity:2"], 1e-9)) == 1
    assert sum(holdout_scenes(["identity:1", "identity:2"], 1 - 1e-9)) == 1


def test_at_most_k_identities_per_scene_refuses_the_joining_photo(three):
    _, ds_path = three
    report = json.loads((ds_path / "report.json").read_text())
    assert [(r["name"], r["reason"]) for r in report["refusals"]] == [("gc.png", "too_many_identities")]
    assert "join a scene of 3 identities > 2" in report["refusals"][0]["detail"]
    ds = PreparedDataset(ds_path)
    assert len(ds) == 4 and len(ds.scenes) == 2 and len(ds.identities) == 3
    for scene in ds.scenes:
        assert len({i for n in scene for i in ds.images[n]["identities"]}) <= 2


def _split_of(ds_path) -> dict[str, str]:
    return {r["key"]: r["split"] for r in json.loads((ds_path / "index.json").read_text())["images"]}


def test_no_identity_is_in_both_splits_and_each_split_has_its_own_shards(three):
    _, ds_path = three
    train, held = PreparedDataset(ds_path, split="train"), PreparedDataset(ds_path, split="holdout")
    assert len(train) and len(held) and len(train) + len(held) == len(PreparedDataset(ds_path))
    assert set(train.identities).isdisjoint(held.identities)
    assert {i for n in train.indices for i in train.images[n]["identities"]} == set(train.identities)
    assert not set(train.split_shards) & set(held.split_shards)
    split = _split_of(ds_path)
    for part in (train, held):
        for shard in part.split_shards:
            with tarfile.open(part.shards[shard]) as tar:
                assert {split[m.name.split(".")[0]] for m in tar} == {part.split}
        for n in part.indices:
            assert part.meta(n)["split"] == part.split
    index = json.loads((ds_path / "index.json").read_text())
    assert index["split"]["fraction"] == 0.5 and index["split"]["holdout"]["images"] == len(held)
    from layercraft.training.scenes import DatasetScenes

    drawn = {n for s in range(20) for n in DatasetScenes(ds_path).draw(np.random.default_rng(s)).images}
    assert drawn and drawn <= set(train.indices)  # training never sees the held-out split


def test_the_split_is_stable_under_resume_and_data_info_reports_it(three, tmp_path):
    from layercraft.cli import app

    _, ds_path = three
    copy = tmp_path / "ds"
    shutil.copytree(ds_path, copy)
    before = _split_of(copy)
    prepare([], copy, resume=True)
    assert _split_of(copy) == before and set(before.values()) == {"train", "holdout"}
    res = CliRunner().invoke(app, ["data", "info", str(copy), "--sheet", str(tmp_path / "s.png")])
    assert res.exit_code == 0, res.output
    assert "holdout split: 3 images, 1 scenes, 2 identities, 1 shards (fraction 0.5 of scenes)" in res.output
    assert "train split: 1 images" in res.output
    res = CliRunner().invoke(app, ["data", "prepare", str(copy), "--out", str(tmp_path / "o"), "--holdout", "1"])
    assert res.exit_code == 2 and "--holdout" in res.output
