"""`build_inputs`: the ids, masks, condition tokens and text each scheme gives the transformer."""

from dataclasses import fields
from typing import get_args, get_type_hints

import pytest
import torch

from layercraft.canvas import Category
from layercraft.conditioning import item_text_ids, noisy_ids
from layercraft.conditioning.positions.one_for_all import CONDITION_ID
from layercraft.denoise import DenoiserInputs, Switches, velocity
from lc_canvases import canvas

L = 64  # 32×32 px at 4 px per packed token → an 8×8 noisy grid
PROMPT = "two people in a park"


def _build(pipe, canvases, scheme, negative=None, **switches):
    canvases = canvases if isinstance(canvases, list) else [canvases]
    return pipe.build_inputs([PROMPT] * len(canvases), canvases, scheme, Switches(**switches),
                             negative=None if negative is None else [negative] * len(canvases))


def _cond(inp, b=0):
    """(ids, segment) of sample b's valid condition tokens."""
    valid = inp.conds.batch.valid[b]
    ids = inp.img_ids[L:] if inp.img_ids.ndim == 2 else inp.img_ids[b, L:]
    return ids[valid], inp.conds.batch.segment[b][valid]


def test_layercomposer_puts_locked_layers_at_index_0_and_unlocked_ones_at_1_2_and_on(pipe):
    inp = _build(pipe, canvas(2, locked=(0,)), "layercomposer")
    assert inp.n_noisy == L and inp.img_ids.ndim == 2  # one canvas: FLUX's shared (L + M, 3) table
    torch.testing.assert_close(inp.img_ids[:L], noisy_ids((8, 8)))
    ids, seg = _cond(inp)
    assert set(seg.tolist()) == {0, 1}
    assert set(ids[seg == 0, 0].tolist()) == {0.0} and set(ids[seg == 1, 0].tolist()) == {1.0}
    # cells sit under the layer: l0 is a 16 px disc at (0, 0) → rows and columns 0..3 of the 8×8 grid
    assert ids[seg == 0, 1:].min() >= 0 and ids[seg == 0, 1:].max() <= 3
    assert inp.mask is None  # full attention, one canvas: the fused path without a mask
    assert inp.cond_tokens.shape == (1, ids.shape[0], 4 * pipe.latent_channels)
    # no locking: unlocked layers j = 1, 2, … in canvas order (eq. 1), the formerly locked one first
    ids, seg = _cond(_build(pipe, canvas(2, locked=(0,)), "layercomposer", lock_ids=False))
    assert set(ids[seg == 0, 0].tolist()) == {1.0} and set(ids[seg == 1, 0].tolist()) == {2.0}


def test_pruning_drops_transparent_tokens_and_prune_false_keeps_every_cell(pipe):
    pruned = _build(pipe, canvas(2), "layercomposer")
    full = _build(pipe, canvas(2), "layercomposer", prune=False)
    assert full.cond_tokens.shape[1] == 2 * L
    assert 0 < pruned.cond_tokens.shape[1] < 2 * L
    # an unpruned segment's ids are the whole grid, cell for cell
    ids, seg = _cond(full)
    torch.testing.assert_close(ids[seg == 0, 1:], noisy_ids((8, 8))[:, 1:])


def test_anyphoto_isolates_segments_from_each_other_but_not_from_text_and_image(pipe):
    inp = _build(pipe, canvas(2), "anyphoto")
    ids, seg = _cond(inp)
    assert set(ids[:, 0].tolist()) == {1.0}  # every layer at index 1
    t = inp.text.shape[1]
    m = inp.mask[0, 0]
    assert m.shape == (t + L + seg.numel(),) * 2
    cond = torch.arange(seg.numel()) + t + L
    same = seg[:, None] == seg[None, :]
    assert torch.equal(m[cond][:, cond], same)  # segment i sees itself only
    assert m[: t + L].all() and m[cond][:, : t + L].all()  # text and noisy see all; segments see text and noisy
    assert _build(pipe, canvas(2), "anyphoto", isolation=False).mask is None  # the switch turns it off


def test_cache_mask_keeps_conditions_to_themselves(pipe):
    inp = _build(pipe, canvas(2), "layercomposer", cache=True)
    t = inp.text.shape[1]
    m = inp.mask[0, 0]
    assert m[: t + L].all()  # text and noisy tokens still see everything
    assert not m[t + L :, : t + L].any() and m[t + L :, t + L :].all()  # conditions see conditions only


def test_kontext_collage_is_one_segment_on_the_noisy_cells_at_index_1(pipe):
    ids, seg = _cond(_build(pipe, canvas(2, locked=(0,)), "kontext_collage"))
    assert set(seg.tolist()) == {0} and ids.shape[0] == L
    torch.testing.assert_close(ids, noisy_ids((8, 8)) + torch.tensor([1.0, 0, 0]))


def test_ragged_batch_gets_per_sample_ids_and_a_padding_mask(pipe):
    cvs = [canvas(1), canvas(3, locked=(1,))]
    both = _build(pipe, cvs, "layercomposer")
    alone = [_build(pipe, cv, "layercomposer") for cv in cvs]
    n = [a.cond_tokens.shape[1] for a in alone]
    assert n[0] < n[1] and both.cond_tokens.shape[1] == n[1]
    assert both.img_ids.shape == (2, L + n[1], 3) and both.txt_ids.shape[0] == 2
    t = both.text.shape[1]
    for b in range(2):
        torch.testing.assert_close(both.img_ids[b, : L + n[b]], alone[b].img_ids)  # each sample its own ids
        torch.testing.assert_close(both.cond_tokens[b, : n[b]], alone[b].cond_tokens[0], atol=1e-5, rtol=1e-5)
        assert both.conds.batch.valid[b].sum() == n[b]
    m = both.mask[0, 0]  # the short sample: its padded condition keys are masked for every real query
    real = t + L + n[0]
    assert m[:real, :real].all() and not m[:real, real:].any()
    assert torch.equal(m[real:, real:], torch.eye(m.shape[0] - real, dtype=torch.bool))  # padding sees itself
    assert both.mask[1, 0].all()


def test_ccpa_appends_descriptor_tokens_at_their_block_centres(pipe):
    cv = canvas(2, placed=False, descriptors=True)
    inp = _build(pipe, cv, "one_for_all", negative="blurry", ccpa_tokens=4)
    t = pipe.config.max_sequence_length
    assert inp.text.shape[1] == t + 2 * 4 and inp.txt_ids.shape == (1, t + 8, 3)  # per-sample text ids
    assert (inp.txt_ids[0, :t] == 0).all()
    # face (condition id 1), 8×8 reference on an 8×8 grid: eq. 3 gives (1, 8 + 8/2, 8 + 8/2)
    assert inp.txt_ids[0, t].tolist() == [1.0, 12.0, 12.0]
    plans = inp.conds.plans[0]
    for k, p in enumerate(plans):
        expected = item_text_ids(Category(p.spec.category), tuple(p.spec.keep.shape), (8, 8), 4, "paper")
        torch.testing.assert_close(inp.txt_ids[0, t + 4 * k : t + 4 * (k + 1)], expected)
    desc, _ = pipe.encode_text(["red shirt 0"], 4)
    torch.testing.assert_close(inp.text[0, t : t + 4], desc[0])  # the descriptor's own text states
    torch.testing.assert_close(inp.neg_text[:, t:], inp.text[:, t:])  # the negative branch keeps the descriptors
    plain = _build(pipe, cv, "one_for_all", ccpa=False)
    assert plain.text.shape[1] == t and plain.txt_ids.shape == (t, 3) and not plain.txt_ids.any()


def test_ref_grid_shrinks_one_for_all_references_and_moves_their_blocks(pipe):
    cv = canvas(2, placed=False, descriptors=True)
    full, small = _build(pipe, cv, "one_for_all"), _build(pipe, cv, "one_for_all", ref_grid=4)
    assert [p.spec.keep.shape for p in full.conds.plans[0]] == [(8, 8)] * 2  # default: the target's 8×8 grid
    assert [p.spec.keep.shape for p in small.conds.plans[0]] == [(4, 4)] * 2
    assert [p.rgba.shape[:2] for p in small.conds.plans[0]] == [(16, 16)] * 2  # 4 tokens × 4 px
    n_full, n_small = int(full.conds.batch.valid.sum()), int(small.conds.batch.valid.sum())
    assert 0 < n_small <= 2 * 16 < n_full
    ids, seg = _cond(small)
    for k, p in enumerate(small.conds.plans[0]):  # eq. 2 with h_ref = w_ref = 4: rows 8 + ID·4 … 8 + ID·4 + 3
        cid = CONDITION_ID[Category(p.spec.category)]
        rows = ids[seg == k, 1]
        assert rows.min() >= 8 + cid * 4 and rows.max() <= 8 + cid * 4 + 3
    t = pipe.config.max_sequence_length  # CCPA text sits at the small block's centre (eq. 3: 8 + ID·4/2)
    cid = CONDITION_ID[Category(small.conds.plans[0][0].spec.category)]
    assert small.txt_ids[0, t].tolist() == [1.0, 8 + cid * 2, 8 + cid * 2]
    lc = _build(pipe, canvas(2), "layercomposer", ref_grid=4)  # placed layers keep the target grid
    assert [p.spec.keep.shape for p in lc.conds.plans[0]] == [(8, 8)] * 2
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="ref_grid"):
            Switches(ref_grid=bad).check("one_for_all", identity_embed_dim=0, dam_hidden_dim=0,
                                         has_identity_embeds=False)


def test_ccpa_is_off_by_default_where_the_scheme_does_not_use_it(pipe):
    t = pipe.config.max_sequence_length
    assert _build(pipe, canvas(2, descriptors=True), "layercomposer").text.shape[1] == t


def test_every_declared_ccpa_anchor_builds(pipe):
    anchors = get_args(get_type_hints(Switches)["ccpa_anchor"])
    assert "paper" in anchors
    for anchor in anchors:
        _build(pipe, canvas(2, placed=False, descriptors=True), "one_for_all", ccpa_anchor=anchor)


def test_identity_table_follows_segment_order(pipe):
    e = torch.randn(8)
    inp = pipe.build_inputs([PROMPT], [canvas(2)], "anyphoto", Switches(modulation=True), identity_embeds=[{"l1": e}])
    table, valid = inp.identity
    assert table.shape == (1, 2, 8) and valid.tolist() == [[False, True]]
    torch.testing.assert_close(table[0, 1], e)
    torch.testing.assert_close(table[0, 0], torch.zeros(8))
    with pytest.raises(ValueError, match="not in it"):
        pipe.build_inputs([PROMPT], [canvas(2)], "anyphoto", Switches(modulation=True), identity_embeds=[{"x": e}])
    assert _build(pipe, canvas(2), "anyphoto").identity == (None, None)


def test_inputs_hold_no_model_and_velocity_checks_its_rows(pipe):
    inp = _build(pipe, canvas(2), "layercomposer")
    assert not any(isinstance(getattr(inp, f.name), torch.nn.Module) for f in fields(DenoiserInputs))
    x = torch.zeros(2, L, 4 * pipe.latent_channels)
    with pytest.raises(ValueError, match="rows"):
        velocity(pipe.transformer, inp, x, torch.tensor(0.5), inp.conditioning())
    with pytest.raises(ValueError, match="without negative prompts"):
        inp.text_for(negative=True)


def test_stacked_branches_take_a_noise_level_per_sample(pipe):
    """velocity() with r stacked branches and one σ per sample (training draws σ per example) equals one call per
    branch with those σ."""
    inp = _build(pipe, [canvas(2, locked=(0,)), canvas(1)], "layercomposer", negative="")
    x = torch.randn(2, L, inp.cond_tokens.shape[-1], generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        both = velocity(pipe.transformer, inp, x.repeat(2, 1, 1), sigma, inp.conditioning(repeat=2), (False, True))
        pos = velocity(pipe.transformer, inp, x, sigma, inp.conditioning())
        neg = velocity(pipe.transformer, inp, x, sigma, inp.conditioning(), (True,))
    torch.testing.assert_close(both, torch.cat([pos, neg]), atol=1e-5, rtol=1e-4)


def test_crop_box_is_the_kept_tokens_box_grown_by_the_margin_and_clipped():
    from layercraft.denoise.inputs import crop_box

    keep = torch.zeros(8, 8, dtype=torch.bool)
    assert crop_box(keep) is None
    keep[2, 3] = keep[4, 5] = True
    assert crop_box(keep, margin=0) == (2, 5, 3, 6)
    assert crop_box(keep, margin=1) == (1, 6, 2, 7)
    assert crop_box(keep, margin=4) == (0, 8, 0, 8)


def test_layers_are_encoded_only_around_their_kept_tokens_and_keep_their_tokens(pipe, monkeypatch):
    """A pixel-local encoder (the tiny pipeline's pixel unshuffle) gives the kept tokens bit-exactly whether a layer
    is encoded whole or cropped; the encoder is handed only the crops' pixels."""
    from layercraft.denoise.inputs import crop_box, encode_segments, plan_canvas

    plans = plan_canvas(canvas(3, side=64), "layercomposer", (16, 16), Switches())
    seen = []  # (H, W) of each image the encoder is handed
    encode = pipe.vae.encode

    def recording_encode(x, *args, **kwargs):
        seen.extend(tuple(x.shape[-2:]) for _ in range(x.shape[0]))
        return encode(x, *args, **kwargs)

    monkeypatch.setattr(pipe.vae, "encode", recording_encode)
    whole = encode_segments(pipe.vae, plans, margin=None)
    assert seen and set(seen) == {(64, 64)}
    seen.clear()
    cropped = encode_segments(pipe.vae, plans, margin=0)
    assert sum(h * w for h, w in seen) < len(plans) * 64 * 64 / 2  # 32 px discs on a 64² canvas
    for p, w, c in zip(plans, whole, cropped, strict=True):
        keep = p.spec.keep.reshape(-1)
        assert keep.any() and torch.equal(c[keep], w[keep])
        y0, y1, x0, x1 = crop_box(p.spec.keep, margin=0)
        outside = torch.ones(16, 16, dtype=torch.bool)
        outside[y0:y1, x0:x1] = False
        assert outside.any() and not c.view(16, 16, -1)[outside].any()  # never encoded: zero, pruned by every scheme


def test_a_layer_with_no_kept_token_is_not_encoded_and_a_mis_sized_one_is_refused(pipe, monkeypatch):
    from dataclasses import replace

    from layercraft.denoise.inputs import encode_segments, plan_canvas

    plan = plan_canvas(canvas(1), "layercomposer", (8, 8), Switches())[0]
    empty = replace(plan, spec=replace(plan.spec, keep=torch.zeros(8, 8, dtype=torch.bool)))
    monkeypatch.setattr(pipe.vae, "encode", lambda *a, **k: pytest.fail("an empty layer was encoded"))
    (tokens,) = encode_segments(pipe.vae, [empty])
    assert tokens.shape == (64, pipe.vae.latent_channels * 4) and not tokens.any()
    with pytest.raises(ValueError, match="token grid"):
        encode_segments(pipe.vae, [replace(plan, rgba=plan.rgba[:28])])
