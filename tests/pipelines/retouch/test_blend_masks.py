import numpy as np

from layercraft.pipelines.retouch.masks import (
    adaptive_blend_mask,
    cross_attention_mask,
    normalized_distance,
    remove_small_components,
)


def test_normalized_distance_maps_foreground_to_half_one():
    m = np.zeros((9, 9), bool)
    m[2:7, 2:7] = True
    d = normalized_distance(m)
    assert d[0, 0] == 0 and d[~m].max() == 0
    assert abs(d[m].min() - 0.5) < 1e-12 and abs(d[4, 4] - 1.0) < 1e-12  # border 0.5, centre 1
    assert d[2, 4] < d[3, 4] < d[4, 4]


def test_small_component_removal():
    m = np.zeros((10, 10), bool)
    m[1:5, 1:5] = True  # 16 px
    m[8, 8] = True  # 1 px speck
    out = remove_small_components(m, min_size=4)
    assert out[2, 2] and not out[8, 8] and out.sum() == 16


def test_adaptive_blend_on_synthetic_masks():
    mc = np.zeros((16, 16), bool)
    mc[4:10, 4:10] = True  # confident cross-attention region (36 px)
    mc[14, 1] = True  # noise speck
    seg = np.zeros((16, 16), bool)
    seg[6:14, 6:14] = True  # segmentation shifted down-right
    m = adaptive_blend_mask(mc, seg, min_size=4)
    assert m.shape == (16, 16) and m.min() >= 0 and m.max() <= 1
    assert (m[4:10, 4:10] == 1).all()  # M^C's kept components are inserted at full strength
    assert 0.5 <= m[13, 13] < 1  # segmentation-only border: distance-transform strength in [0.5, 1)
    assert m[0, 15] == 0  # outside both masks
    assert m[14, 1] >= 0.5 and m[14, 1] < 1  # the speck is part of M_k's soft mask but not re-inserted at 1
    assert m[14, 1] == normalized_distance(np.logical_or(mc, seg))[14, 1]


def test_cross_attention_mask_threshold_and_resize():
    a = np.zeros((4, 4))
    a[1:3, 1:3] = 1.0
    m = cross_attention_mask(a, (8, 8), threshold=0.5)
    assert m.shape == (8, 8) and m[3:5, 3:5].all() and not m[0, 0]
