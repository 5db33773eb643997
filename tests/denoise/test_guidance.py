"""Guidance: the branches, their combination v₊ + Σ w_k (v₊ − v_k), and batched branches = separate calls."""

import pytest
import torch

from layercraft.canvas import Canvas
from layercraft.denoise import Branch, GuidedVelocity, Switches, combine, guidance_branches, velocity
from lc_canvases import canvas
from lc_spy import CallSpy

L = 64


def test_combine_extrapolates_from_each_branch_towards_the_positive():
    pos, neg, bare = torch.tensor([1.0, 2.0]), torch.tensor([3.0, -1.0]), torch.tensor([0.5, 2.0])
    # 1 + 2·(1 − 3) = −3; 2 + 2·(2 + 1) = 8
    torch.testing.assert_close(combine([pos, neg], [0.0, 2.0]), torch.tensor([-3.0, 8.0]))
    # with a second branch of weight 0.5: + 0.5·(pos − bare)
    torch.testing.assert_close(combine([pos, neg, bare], [0.0, 2.0, 0.5]), torch.tensor([-2.75, 8.0]))
    torch.testing.assert_close(combine([pos, neg], [123.0, 0.0]), pos)  # weight 0: no guidance; weights[0] ignored
    torch.testing.assert_close(combine([pos], [5.0]), pos)
    with pytest.raises(ValueError):
        combine([pos, neg], [0.0])  # one weight per branch


def test_random_branches_combine_as_the_formula():
    g = torch.Generator().manual_seed(0)
    vs = [torch.randn(2, 5, 3, generator=g) for _ in range(4)]
    w = [0.0, 1.5, -0.25, 3.0]
    expected = vs[0] * (1 + sum(w[1:])) - sum(wk * vk for wk, vk in zip(w[1:], vs[1:], strict=True))
    torch.testing.assert_close(combine(vs, w), expected)


def test_guidance_branches_for_the_scales():
    inputs, bare = object(), object()
    assert guidance_branches(inputs) == [Branch(inputs)]  # scale 1: no guidance branch
    text = guidance_branches(inputs, true_cfg_scale=3.0)
    assert text == [Branch(inputs), Branch(inputs, negative=True, weight=2.0)]
    both = guidance_branches(inputs, true_cfg_scale=2.0, canvas_cfg_scale=1.5, bare=bare)
    assert both[1] == Branch(inputs, negative=True, weight=1.0) and both[2] == Branch(bare, weight=0.5)
    with pytest.raises(ValueError, match="empty-canvas"):
        guidance_branches(inputs, canvas_cfg_scale=2.0)
    with pytest.raises(ValueError, match="no branch"):
        GuidedVelocity([])


@pytest.fixture(scope="module")
def branches(pipe):
    cv = canvas(2, locked=(0,))
    sw = Switches()
    inputs = pipe.build_inputs(["two people in a park"], [cv], "layercomposer", sw, negative=["blue"])
    bare = pipe.build_inputs(["two people in a park"], [Canvas(width=32, height=32)], "layercomposer", sw)
    return guidance_branches(inputs, true_cfg_scale=3.0, canvas_cfg_scale=2.0, bare=bare)


def test_each_branch_reads_its_own_inputs(pipe, branches):
    pos, neg, bare = branches
    x = torch.randn(1, L, 4 * pipe.latent_channels, generator=torch.Generator().manual_seed(1))
    sigma = torch.tensor(0.6)
    vs = GuidedVelocity(branches).branch_velocities(pipe.transformer, x, sigma)
    own = [velocity(pipe.transformer, b.inputs, x, sigma, b.inputs.conditioning(), (b.negative,)) for b in branches]
    for v, o in zip(vs, own, strict=True):
        torch.testing.assert_close(v, o, atol=1e-5, rtol=1e-5)
    # the branches really differ (negative prompt, empty canvas), so the guidance term is not vacuous
    assert (vs[0] - vs[1]).abs().mean() > 1e-3 and (vs[0] - vs[2]).abs().mean() > 1e-3


CASES = {  # what stacking must repeat correctly: a KV cache, a per-sample mask, per-sample ids, per-sample text ids
    "plain": ("layercomposer", [canvas(2, locked=(0,))], {}),
    "cache": ("layercomposer", [canvas(2, locked=(0,))], {"cache": True}),
    "isolated": ("anyphoto", [canvas(2)], {}),
    "ragged": ("layercomposer", [canvas(1), canvas(3, locked=(1,))], {}),
    "ccpa": ("one_for_all", [canvas(2, placed=False, descriptors=True)] * 2, {"ccpa_tokens": 2}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_batched_branches_equal_separate_calls_in_fewer_transformer_calls(pipe, case):
    scheme, cvs, switches = CASES[case]
    sw, b = Switches(**switches), len(cvs)
    prompts = ["two people in a park", "three people"][:b]
    inputs = pipe.build_inputs(prompts, cvs, scheme, sw, negative=["blue"] * b)
    bare = pipe.build_inputs(prompts, [Canvas(width=32, height=32)] * b, scheme, sw)
    brs = guidance_branches(inputs, true_cfg_scale=3.0, canvas_cfg_scale=2.0, bare=bare)
    x = torch.randn(b, L, 4 * pipe.latent_channels, generator=torch.Generator().manual_seed(2))
    out, calls = {}, {}
    for batch in (True, False):
        guided = GuidedVelocity(brs, batch=batch)  # one trajectory: with cache, step 2 reads the cached K/V
        with CallSpy(pipe.transformer) as spy:
            out[batch] = [guided(pipe.transformer, x, torch.tensor(s)) for s in (0.8, 0.5)]
        calls[batch] = spy.calls
        assert guided.passes == (2 if batch else 3)
    for a, c in zip(out[True], out[False], strict=True):
        torch.testing.assert_close(a, c, atol=1e-5, rtol=1e-5)
    assert len(calls[True]) == 2 * 2 and len(calls[False]) == 2 * 3
    stacked = calls[True][0]
    assert stacked["hidden_states"].shape[0] == 2 * b  # positive and negative prompt in one call
    assert torch.equal(stacked["encoder_hidden_states"][:b], inputs.text)
    assert torch.equal(stacked["encoder_hidden_states"][b:], inputs.neg_text)
    assert all(c["hidden_states"].shape[0] == b for c in calls[False])
    if case == "cache":  # the second step reads the cache: only noisy tokens go in
        assert calls[True][2]["hidden_states"].shape[1] == L < calls[True][0]["hidden_states"].shape[1]


def test_guided_velocity_is_the_combination_of_the_branch_velocities(pipe, branches):
    x = torch.randn(1, L, 4 * pipe.latent_channels, generator=torch.Generator().manual_seed(3))
    sigma = torch.tensor(0.4)
    guided = GuidedVelocity(branches)
    pos, neg, bare = guided.branch_velocities(pipe.transformer, x, sigma)
    expected = pos + 2.0 * (pos - neg) + 1.0 * (pos - bare)  # true CFG 3, canvas CFG 2
    torch.testing.assert_close(guided(pipe.transformer, x, sigma), expected, atol=1e-5, rtol=1e-5)
