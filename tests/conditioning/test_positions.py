import pytest
import torch

from layercraft.canvas import Category
from layercraft.conditioning import CONDITION_ID, SCHEMES, SegmentSpec, item_text_ids, noisy_ids, text_ids


def keep(rows, h=3, w=4):
    k = torch.zeros(h, w, dtype=torch.bool)
    for r, c in rows:
        k[r, c] = True
    return k


def test_noisy_and_text_ids():
    assert noisy_ids((2, 3)).tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0], [0, 1, 1], [0, 1, 2]]
    assert text_ids(2).tolist() == [[0, 0, 0], [0, 0, 0]]


def test_layercomposer_eq1_table():
    specs = [
        SegmentSpec(keep([(0, 0), (0, 1), (1, 1)]), locked=True),  # background-like, locked
        SegmentSpec(keep([(2, 3)]), locked=False),  # first unlocked → j = 1
        SegmentSpec(keep([(0, 1), (2, 0)]), locked=True),  # front locked overlaps (0, 1)
        SegmentSpec(keep([(1, 2)]), locked=False),  # second unlocked → j = 2
    ]
    out = SCHEMES["layercomposer"].ids(specs, (3, 4))
    assert out[0].ids.tolist() == [[0, 0, 0], [0, 1, 1]]  # (0, 1) given to the front locked layer
    assert out[1].ids.tolist() == [[1, 2, 3]]
    assert out[2].ids.tolist() == [[0, 0, 1], [0, 2, 0]]
    assert out[3].ids.tolist() == [[2, 1, 2]]
    all_locked = torch.cat([out[0].ids, out[2].ids])
    assert len({tuple(r) for r in all_locked.tolist()}) == len(all_locked)  # never two tokens with one id


def test_anyphoto_all_identities_share_type_index():
    specs = [SegmentSpec(keep([(0, 0), (1, 2)])), SegmentSpec(keep([(1, 2)]))]
    out = SCHEMES["anyphoto"].ids(specs, (3, 4))
    assert out[0].ids.tolist() == [[1, 0, 0], [1, 1, 2]] and out[1].ids.tolist() == [[1, 1, 2]]


def test_one_for_all_eq2_and_ccpa_eq3():
    h, w = 8, 6
    face = SegmentSpec(torch.ones(2, 3, dtype=torch.bool), category=Category.face, placed=False)
    bag = SegmentSpec(keep([(0, 0), (1, 1)], 2, 2), category=Category.bag, placed=False)
    out = SCHEMES["one_for_all"].ids([face, bag], (h, w))
    # face ID 1, h_ref = 2, w_ref = 3: (1, 8 + 1·2 + r, 6 + 1·3 + c)
    assert out[0].ids.tolist() == [[1, 10 + r, 9 + c] for r in range(2) for c in range(3)]
    # bag ID 4, h_ref = w_ref = 2: (1, 8 + 8 + r, 6 + 8 + c)
    assert out[1].ids.tolist() == [[1, 16, 14], [1, 17, 15]]
    assert CONDITION_ID[Category.upper_garment] == 2 and CONDITION_ID[Category.lower_garment] == 3
    paper = item_text_ids(Category.bag, (2, 2), (h, w), 3)
    assert paper.tolist() == [[1, 8 + 4 * 2 / 2, 6 + 4 * 2 / 2]] * 3
    centre = item_text_ids(Category.face, (2, 3), (h, w), 1, anchor="centroid")
    assert centre.tolist() == [[1, 10.5, 10.0]]  # the mean of the face block's ids
    assert torch.allclose(centre[0], out[0].ids.mean(0))


def test_kontext_single_reference_and_errors():
    out = SCHEMES["kontext_collage"].ids([SegmentSpec(torch.ones(1, 2, dtype=torch.bool))], (1, 2))
    assert out[0].ids.tolist() == [[1, 0, 0], [1, 0, 1]]
    with pytest.raises(ValueError, match="exactly one segment"):
        SCHEMES["kontext_collage"].ids([], (1, 2))
    with pytest.raises(ValueError, match="unplaced category reference"):
        SCHEMES["layercomposer"].ids([SegmentSpec(torch.ones(1, 2, dtype=torch.bool), placed=False)], (1, 2))
