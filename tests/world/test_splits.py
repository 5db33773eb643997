import pytest

from layercraft.world.layout import scene
from layercraft.world.splits import (
    IDENTITY_RANGES,
    SCENE_RANGES,
    SPLITS,
    HeldOutError,
    check_split,
    identity_split,
    scene_range,
)


def test_ranges_are_disjoint():
    for ranges in (IDENTITY_RANGES, SCENE_RANGES):
        spans = sorted(ranges.values())
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.parametrize("split", SPLITS)
def test_scenes_draw_identities_from_their_own_split(split):
    lo, _ = scene_range(split)
    for sid in range(lo, lo + 30):
        assert {identity_split(i) for i in scene(sid).identities} == {split}


def test_training_may_not_touch_held_out_ids():
    lo, _ = scene_range("test")
    check_split("train", scenes=[0, 5], identities=[1, 2])
    with pytest.raises(HeldOutError):
        check_split("train", scenes=[lo])
    with pytest.raises(HeldOutError):
        check_split("train", identities=scene(lo).identities)
    with pytest.raises(HeldOutError):
        check_split("val", identities=[IDENTITY_RANGES["test"][0]])
