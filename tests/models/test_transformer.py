import pytest
import torch
from lc_tiny import TINY, make_inputs

from layercraft.conditioning import MaskSpec, joint_attention_mask, pad_masks
from layercraft.models.attention import ConditionKVCache
from layercraft.models.transformer import JointConditioning, LayercraftFluxTransformer

LENGTHS = [3, 4]  # two condition segments


def _cond(inputs, seed=2):
    g = torch.Generator().manual_seed(seed)
    b = inputs["noisy"].shape[0]
    m = sum(LENGTHS)
    tokens = torch.randn(b, m, 16, generator=g)
    ids = torch.cat([torch.ones(m, 1), torch.randint(0, 4, (m, 2), generator=g).float()], 1)
    segment = torch.cat([torch.full((n,), i) for i, n in enumerate(LENGTHS)]).expand(b, -1)
    return tokens, ids, segment


def _run(model, inputs, cond_tokens, cond_ids, cond=None, noisy=None, timestep=None):
    x = inputs["noisy"] if noisy is None else noisy
    hidden = x if cond_tokens is None else torch.cat([x, cond_tokens], 1)
    ids = inputs["noisy_ids"] if cond_ids is None else torch.cat([inputs["noisy_ids"], cond_ids], -2)
    t = inputs["timestep"] if timestep is None else timestep
    extra = {} if cond is None else {"conditioning": cond}
    with torch.no_grad():
        return model(hidden, inputs["text"], inputs["pooled"], t, ids, inputs["txt_ids"], **extra).sample


def _mask(inputs, mode):
    spec = MaskSpec(isolated=mode.startswith("isolated"), cacheable=mode.endswith("cacheable"))
    return joint_attention_mask(inputs["text"].shape[1], inputs["noisy"].shape[1], LENGTHS, spec)


def test_stock_weights_load_and_match_exactly(stock, inputs):
    ours = LayercraftFluxTransformer.from_stock(stock).eval()
    assert set(ours.state_dict()) == set(stock.state_dict())
    tokens, ids, segment = _cond(inputs)
    expected = _run(stock, inputs, tokens, ids)
    assert torch.equal(_run(ours, inputs, tokens, ids), expected)
    # conditioning present but every extension off is still the stock computation
    assert torch.equal(_run(ours, inputs, tokens, ids, JointConditioning(segment)), expected)


def test_from_stock_with_extensions_only_adds_new_modules(stock):
    ours = LayercraftFluxTransformer.from_stock(stock, identity_embed_dim=8, dam_hidden_dim=4)
    new = set(ours.state_dict()) - set(stock.state_dict())
    assert new and all(k.startswith("identity_projector.") or ".attn.temperature." in k for k in new)
    for k, v in stock.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v)


def test_isolated_mask_reaches_attention():
    torch.manual_seed(0)
    one_block = LayercraftFluxTransformer(**{**TINY, "num_single_layers": 0}).eval()
    inputs = make_inputs()
    tokens, ids, segment = _cond(inputs)
    changed = tokens.clone()
    changed[:, LENGTHS[0]:] += 1.0  # segment 1 only
    seg0 = slice(16, 16 + LENGTHS[0])
    for mode, same in (("isolated", True), ("full", False)):
        cond = JointConditioning(segment, attention_mask=_mask(inputs, mode))
        a = _run(one_block, inputs, tokens, ids, cond)[:, seg0]
        b = _run(one_block, inputs, changed, ids, cond)[:, seg0]
        assert torch.allclose(a, b, atol=1e-6) == same, mode


def test_cacheable_mask_keeps_conditions_independent_of_noisy_and_step(tiny, inputs):
    """Condition keys/values (recorded by the cache) ignore the noisy latent and the timestep."""
    tokens, ids, segment = _cond(inputs)
    mask = _mask(inputs, "isolated_cacheable")
    caches, outs = [], []
    for noisy, t in ((inputs["noisy"], inputs["timestep"]), (inputs["noisy"] + 1.0, torch.tensor([0.9, 0.1]))):
        cache = ConditionKVCache()
        outs.append(_run(tiny, inputs, tokens, ids, JointConditioning(segment, mask, timestep_free=True,
                                                                       kv_cache=cache), noisy=noisy, timestep=t))
        caches.append(cache)
    assert not torch.allclose(outs[0][:, :16], outs[1][:, :16])
    for name, (k, v) in caches[0].entries.items():
        assert k.shape[1] == sum(LENGTHS)
        torch.testing.assert_close(k, caches[1].entries[name][0], atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(v, caches[1].entries[name][1], atol=1e-6, rtol=1e-6)


def test_kv_cache_matches_uncached(tiny, inputs):
    tokens, ids, segment = _cond(inputs)
    mask = _mask(inputs, "cacheable")
    cache = ConditionKVCache()
    cached = JointConditioning(segment, attention_mask=mask, timestep_free=True, kv_cache=cache, dam=True)
    plain = JointConditioning(segment, attention_mask=mask, timestep_free=True, dam=True)
    step1 = _run(tiny, inputs, tokens, ids, cached)
    assert cache.filled and len(cache.entries) == 2
    assert torch.equal(step1, _run(tiny, inputs, tokens, ids, plain))
    noisy2, t2 = inputs["noisy"] * 0.5 + 0.1, torch.tensor([0.2, 0.4])
    read = _run(tiny, inputs, None, None, cached, noisy=noisy2, timestep=t2)  # only the noisy latents
    full = _run(tiny, inputs, tokens, ids, plain, noisy=noisy2, timestep=t2)
    assert read.shape == (2, 16, 16)
    torch.testing.assert_close(read, full[:, :16], atol=1e-5, rtol=1e-5)


def test_kv_cache_refuses_non_cacheable_setups(tiny, inputs):
    tokens, ids, segment = _cond(inputs)
    with pytest.raises(ValueError, match="timestep_free"):
        _run(tiny, inputs, tokens, ids, JointConditioning(segment, _mask(inputs, "cacheable"),
                                                          kv_cache=ConditionKVCache()))
    with pytest.raises(ValueError, match="cacheable"):
        _run(tiny, inputs, tokens, ids, JointConditioning(segment, _mask(inputs, "isolated"), timestep_free=True,
                                                          kv_cache=ConditionKVCache()))


def test_per_sample_ids_equal_shared_ids(tiny, inputs):
    tokens, ids, segment = _cond(inputs)
    shared = _run(tiny, inputs, tokens, ids)
    b = inputs["noisy"].shape[0]
    per_sample = dict(inputs, txt_ids=inputs["txt_ids"].expand(b, -1, -1),
                      noisy_ids=inputs["noisy_ids"].expand(b, -1, -1))
    out = _run(tiny, per_sample, tokens, ids.expand(b, -1, -1))
    torch.testing.assert_close(out, shared, atol=1e-6, rtol=1e-6)


def test_padded_batch_matches_samples_run_alone(tiny, inputs):
    """Two samples with different condition counts and ids, padded into one batch."""
    tokens, ids, segment = _cond(inputs)
    t_len, n = inputs["text"].shape[1], inputs["noisy"].shape[1]
    ids_b = ids.clone()
    ids_b[:, 1:] += 1.0
    lengths = [[3, 4], [2]]
    masks = [joint_attention_mask(t_len, n, ln, MaskSpec()) for ln in lengths]
    batch_ids = torch.stack([ids, torch.cat([ids_b[:2], torch.zeros(5, 3)])])
    seg = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0, 0, -1, -1, -1, -1, -1]])
    cond = JointConditioning(seg, attention_mask=pad_masks(masks, t_len + n + 7))
    batched = _run(tiny, dict(inputs, noisy_ids=inputs["noisy_ids"].expand(2, -1, -1)), tokens, batch_ids, cond)
    for i, m in enumerate((7, 2)):
        one = {k: (v[i : i + 1] if k in ("noisy", "text", "pooled", "timestep") else v) for k, v in inputs.items()}
        sample_ids = ids if i == 0 else ids_b[:2]
        alone = _run(tiny, one, tokens[i : i + 1, :m], sample_ids, JointConditioning(seg[i : i + 1, :m]))
        torch.testing.assert_close(batched[i : i + 1, : n + m], alone, atol=1e-5, rtol=1e-5)


def _attn_inputs(model, inputs, tokens, ids, cond):
    seen = {}
    hook = model.transformer_blocks[0].attn.register_forward_hook(
        lambda mod, args, kwargs, out: seen.update(h=kwargs["hidden_states"].clone()), with_kwargs=True)
    _run(model, inputs, tokens, ids, cond)
    hook.remove()
    return seen["h"]  # (B, L + M, D) modulated, normalised image-stream input to attention


def test_identity_modulation_reaches_only_its_segment(tiny, inputs):
    tokens, ids, segment = _cond(inputs)
    emb = torch.randn(2, 2, 8)
    valid = torch.tensor([[True, True], [True, False]])
    with_ids = JointConditioning(segment, identity_embeds=emb, identity_valid=valid)
    base = _attn_inputs(tiny, inputs, tokens, ids, with_ids)
    # zero-initialised projector: no effect at start
    torch.testing.assert_close(base, _attn_inputs(tiny, inputs, tokens, ids, JointConditioning(segment)),
                               atol=1e-6, rtol=1e-6)
    torch.nn.init.normal_(tiny.identity_projector.fc2.weight)
    emb2 = emb.clone()
    emb2[:, 1] += 1.0  # change identity of segment 1 only
    a = _attn_inputs(tiny, inputs, tokens, ids, JointConditioning(segment, identity_embeds=emb, identity_valid=valid))
    b = _attn_inputs(tiny, inputs, tokens, ids, JointConditioning(segment, identity_embeds=emb2, identity_valid=valid))
    seg1 = slice(16 + LENGTHS[0], None)
    assert torch.equal(a[:, :16 + LENGTHS[0]], b[:, :16 + LENGTHS[0]])  # noisy and segment 0 untouched
    assert not torch.allclose(a[0, seg1], b[0, seg1])  # sample 0's segment 1 has an identity
    assert torch.equal(a[1, seg1], b[1, seg1])  # sample 1's segment 1 is marked without identity
    # and the identity offset moved segment-1 tokens away from plain c
    assert not torch.allclose(a[0, seg1], base[0, seg1])


def test_timestep_free_modulation_only_changes_condition_tokens(tiny, inputs):
    tokens, ids, segment = _cond(inputs)
    a = _attn_inputs(tiny, inputs, tokens, ids, JointConditioning(segment))
    b = _attn_inputs(tiny, inputs, tokens, ids, JointConditioning(segment, timestep_free=True))
    torch.testing.assert_close(a[:, :16], b[:, :16], atol=1e-6, rtol=1e-6)  # noisy tokens keep c
    assert not torch.allclose(a[:, 16:], b[:, 16:], atol=1e-3)


def test_dam_starts_as_identity_and_then_acts(tiny, inputs):
    tokens, ids, segment = _cond(inputs)
    off = _run(tiny, inputs, tokens, ids, JointConditioning(segment))
    on = _run(tiny, inputs, tokens, ids, JointConditioning(segment, dam=True))
    torch.testing.assert_close(on, off, atol=1e-5, rtol=1e-5)
    temp = tiny.transformer_blocks[0].attn.temperature(torch.randn(3, 32))
    torch.testing.assert_close(temp, torch.ones(3, 2))
    torch.nn.init.normal_(tiny.transformer_blocks[0].attn.temperature.fc2.weight)
    assert not torch.allclose(_run(tiny, inputs, tokens, ids, JointConditioning(segment, dam=True)), off, atol=1e-4)


def test_dam_requires_generators(stock, inputs):
    ours = LayercraftFluxTransformer.from_stock(stock)
    tokens, ids, segment = _cond(inputs)
    with pytest.raises(ValueError, match="dam_hidden_dim"):
        _run(ours, inputs, tokens, ids, JointConditioning(segment, dam=True))


def test_sample_prediction_returns_the_implied_velocity(tiny, inputs, tmp_path):
    torch.manual_seed(0)
    xpred = LayercraftFluxTransformer(**TINY, identity_embed_dim=8, dam_hidden_dim=8,
                                      prediction_type="sample", sigma_floor=0.1).eval()
    xpred.load_state_dict(tiny.state_dict())
    t = torch.tensor([0.6, 0.02])  # the second is below the floor
    raw = _run(tiny, inputs, None, None, timestep=t)  # the same network read as x̂₀
    v = _run(xpred, inputs, None, None, timestep=t)
    s = torch.tensor([0.6, 0.1]).view(-1, 1, 1)
    torch.testing.assert_close(v, (inputs["noisy"] - raw) / s)
    xpred.save_pretrained(tmp_path)  # the choice is part of the saved config
    assert LayercraftFluxTransformer.from_pretrained(tmp_path).config.prediction_type == "sample"
    with pytest.raises(ValueError, match="prediction_type"):
        LayercraftFluxTransformer(**TINY, prediction_type="epsilon")


def test_preconditioned_prediction_is_skip_plus_scaled_network_output(tiny, inputs):
    torch.manual_seed(0)
    pre = LayercraftFluxTransformer(**TINY, identity_embed_dim=8, dam_hidden_dim=8,
                                    prediction_type="preconditioned").eval()
    pre.load_state_dict(tiny.state_dict())
    t = torch.tensor([0.6, 0.0])  # σ = 0 must stay finite
    f = _run(tiny, inputs, None, None, timestep=t)  # the same network read as F
    v = _run(pre, inputs, None, None, timestep=t)
    s = t.view(-1, 1, 1)
    d = ((1 - s) ** 2 + s**2).sqrt()
    x0_hat = (1 - s) / d**2 * inputs["noisy"] + s / d * f
    torch.testing.assert_close(v[:1], ((inputs["noisy"] - x0_hat) / s)[:1])
    assert torch.isfinite(v).all()
    # the clean estimate x_σ − σ·v recovers x̂₀ (what the identity loss reads)
    torch.testing.assert_close(inputs["noisy"] - s * v, x0_hat)
