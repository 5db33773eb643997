import numpy as np
import pytest
import torch
from PIL import Image

from layercraft.canvas import Canvas, Layer, Placement
from layercraft.conditioning import keep_mask, pack, plan_segments, prune, token_report, unpack
from lc_images import solid


def rect_alpha(h, w, y0, y1, x0, x1):
    a = torch.zeros(h, w)
    a[y0:y1, x0:x1] = 1
    return a


def test_nearest_rule_counts_tokens_exactly():
    # 64×64 px → 16×16 grid, 4 px per token; the sample is the pixel at offset 2 of each cell
    a = rect_alpha(64, 64, 0, 16, 0, 32)  # 4 rows × 8 cols of tokens
    assert keep_mask(a, (16, 16)).sum() == 32
    a = rect_alpha(64, 64, 0, 16, 0, 34)  # 34 px: cell 8 covers px 32-35, sampled at px 34 → outside
    assert keep_mask(a, (16, 16)).sum() == 32
    a = rect_alpha(64, 64, 0, 16, 0, 35)  # px 34 now opaque → 9 columns
    assert keep_mask(a, (16, 16)).sum() == 36


def test_thin_parts_vanish_under_nearest_but_survive_coverage():
    a = rect_alpha(64, 64, 8, 56, 20, 22)  # a 2 px leg at x = 20, 21
    assert keep_mask(a, (16, 16)).sum() == 0
    cov = keep_mask(a, (16, 16), "coverage", tau=0.0)
    assert cov.sum() == 12 and cov[:, 5].sum() == 12
    assert keep_mask(a, (16, 16), "coverage", tau=0.5).sum() == 12  # 2 of 4 columns opaque: exactly 1/2
    assert keep_mask(a, (16, 16), "coverage", tau=0.51).sum() == 0
    with pytest.raises(ValueError, match="unknown pruning rule"):
        keep_mask(a, (16, 16), "bilinear")


def test_pack_matches_diffusers_flux_packing():
    from diffusers import FluxPipeline

    lat = torch.randn(16, 8, 6)
    ours = pack(lat)
    theirs = FluxPipeline._pack_latents(lat[None], 1, 16, 8, 6)[0]
    assert torch.equal(ours, theirs)
    assert torch.equal(unpack(ours, (4, 3)), lat)


def test_prune_keeps_row_major_order_per_segment():
    t0 = torch.arange(6).float().view(6, 1)
    t1 = 10 + torch.arange(6).float().view(6, 1)
    k0 = torch.tensor([[True, False, True], [False, False, False]])
    k1 = torch.tensor([[False, False, False], [True, True, False]])
    p = prune([t0, t1], [k0, k1])
    assert p.tokens.view(-1).tolist() == [0, 2, 13, 14]
    assert p.coords.tolist() == [[0, 0], [0, 2], [1, 0], [1, 1]]
    assert p.segment.tolist() == [0, 0, 1, 1] and p.lengths(2) == [2, 2]


def _layer(lid, x, y, w, h, locked=False):
    return Layer(id=lid, image=solid(w, h), placement=Placement(x=x, y=y), locked=locked)


def test_token_counts_for_overlapping_and_off_canvas_layers():
    # 64×64 canvas, 16×16 token grid (4 px tokens)
    c = Canvas(width=64, height=64, layers=[
        _layer("a", 0, 0, 16, 16),  # 4×4 = 16 tokens
        _layer("b", 8, 8, 16, 16),  # overlaps a; 16 tokens of its own (unlocked layers keep theirs)
        _layer("c", 56, 56, 16, 16),  # 3/4 off canvas: 2×2 = 4 tokens
        _layer("d", -12, 0, 16, 8),  # off the left edge: 1 col × 2 rows = 2 tokens
    ])
    rep = token_report(c, "layercomposer", (16, 16))
    assert rep.per_layer == {"a": 16, "b": 16, "c": 4, "d": 2}
    assert rep.total == 38 and rep.unpruned == 4 * 256 and rep.noisy == 256
    assert token_report(c, "layercomposer", (16, 16), prune=False).total == 4 * 256


def test_overlapping_locked_layers_keep_only_the_front_token():
    c = Canvas(width=64, height=64, layers=[
        _layer("back", 0, 0, 32, 32, locked=True),
        _layer("front", 16, 16, 32, 32, locked=True),
        _layer("free", 16, 16, 32, 32, locked=False),
    ])
    rep = token_report(c, "layercomposer", (16, 16))
    assert rep.per_layer == {"back": 64 - 16, "front": 64, "free": 64}
    assert token_report(c, "anyphoto", (16, 16)).per_layer == {"back": 64, "front": 64, "free": 64}


def test_plans_for_collage_and_category_references():
    c = Canvas(width=64, height=32, layers=[_layer("a", 0, 0, 16, 16)])
    plans = plan_segments(c, "kontext_collage", (8, 16))
    assert len(plans) == 1 and plans[0].spec.keep.all() and plans[0].rgba.shape == (32, 64, 4)
    ref = Layer(id="bag", image=Image.fromarray(np.pad(np.full((8, 8, 4), 255, np.uint8), ((0, 8), (0, 8), (0, 0)))),
                placed=False, category="bag")
    plans = plan_segments(Canvas(width=64, height=64, layers=[ref]), "one_for_all", (16, 16), ref_grid=(4, 4))
    assert plans[0].rgba.shape == (16, 16, 4) and plans[0].spec.keep.sum() == 4 and not plans[0].spec.placed
    with pytest.raises(ValueError, match="unplaced category reference"):
        plan_segments(Canvas(width=64, height=64, layers=[ref]), "layercomposer", (16, 16))


def test_assemble_prunes_tokens_and_attaches_scheme_ids():
    from layercraft.conditioning import ConditionBatch, assemble

    c = Canvas(width=32, height=32, layers=[
        _layer("bg", 0, 0, 32, 32, locked=True),
        _layer("p", 8, 8, 8, 8, locked=False),
        _layer("q", 16, 0, 16, 8, locked=True),
    ])
    grid = (4, 4)  # 8 px tokens
    plans = plan_segments(c, "layercomposer", grid)
    grids = [torch.arange(16).float().view(16, 1) + 100 * i for i in range(3)]
    s = assemble(plans, grids, "layercomposer", grid)
    assert s.lengths == [14, 1, 2] and s.layer_ids == ["bg", "p", "q"]
    assert s.locked.tolist() == [True, False, True]
    # bg loses cells (0, 2) and (0, 3) to the front locked layer q; p is unlocked j = 1 at (1, 1)
    assert s.tokens[14:].view(-1).tolist() == [105, 202, 203]
    assert s.ids[14:].tolist() == [[1, 1, 1], [0, 0, 2], [0, 0, 3]]
    assert [0, 0, 2] not in s.ids[:14].tolist()
    batch = ConditionBatch.collate([s, s])
    assert batch.tokens.shape == (2, 17, 1) and batch.valid.all()
    with pytest.raises(ValueError, match="segment 0: 15 tokens"):
        assemble(plans, [torch.zeros(15, 1)] + grids[1:], "layercomposer", grid)
