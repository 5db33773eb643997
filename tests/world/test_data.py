import numpy as np
import pytest

from layercraft.world.dataset import RenderedScenes, ShardScenes, collate
from layercraft.world.scene import render
from layercraft.world.shards import read_shard, write_shards
from layercraft.world.splits import HeldOutError
from layercraft.world.suites import build_suite


def test_shards_round_trip_every_ground_truth_field(tmp_path):
    ds = RenderedScenes("val", size=64, images_per_scene=2, length=3)
    paths = write_shards((ds.spec(i) for i in range(3)), tmp_path, per_shard=2)
    assert len(paths) == 2
    got = [s for p in paths for _, s in read_shard(p)]
    for i, s in enumerate(got):
        ref = render(ds.spec(i))
        for k in ("rgb", "plate", "layers", "visible", "parts", "person_boxes", "face_boxes", "landmarks"):
            assert np.array_equal(getattr(s, k), getattr(ref, k)), k
        assert s.meta == ref.meta
    batch = collate([ds[0], ds[1]])
    assert batch["rgb"].shape == (2, 3, 64, 64)
    with pytest.raises(HeldOutError):  # val shards may not feed training
        next(iter(ShardScenes(paths, split="train")))


def test_suites_are_deterministic_and_held_out():
    a, b = build_suite("lock", count=3), build_suite("lock", count=3)
    assert a == b and a["split"] == "test"
    assert all(len(e["locked"]) == 1 and len(e["spec"]["people"]) == 3 for e in a["entries"])
