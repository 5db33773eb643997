import pytest
import torch

from layercraft.conditioning import ConditionBatch, ConditionSample, MaskSpec, joint_attention_mask


def blocks(mask, sizes):
    """Collapse an (S, S) mask to a (n_blocks, n_blocks) table; asserts each block is uniform."""
    edges = [0]
    for s in sizes:
        edges.append(edges[-1] + s)
    out = torch.zeros(len(sizes), len(sizes), dtype=torch.int)
    for i in range(len(sizes)):
        for j in range(len(sizes)):
            b = mask[edges[i]:edges[i + 1], edges[j]:edges[j + 1]]
            assert b.all() or not b.any(), f"block {i},{j} is not uniform"
            out[i, j] = int(b.all())
    return out.tolist()


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_mask_patterns_for_1_to_4_segments(k):
    seg = [2 + i for i in range(k)]
    sizes = [3, 4] + seg  # text, noisy, segments
    n = 2 + k
    full = joint_attention_mask(3, 4, seg, MaskSpec())
    assert full.shape == (1, 1, sum(sizes), sum(sizes)) and full.all()

    iso = blocks(joint_attention_mask(3, 4, seg, MaskSpec(isolated=True))[0, 0], sizes)
    expect = [[1] * n, [1] * n] + [[1, 1] + [int(i == j) for j in range(k)] for i in range(k)]
    assert iso == expect  # eq. 19: star topology centred on text + noisy

    cache = blocks(joint_attention_mask(3, 4, seg, MaskSpec(cacheable=True))[0, 0], sizes)
    assert cache == [[1] * n, [1] * n] + [[0, 0] + [1] * k for _ in range(k)]

    both = blocks(joint_attention_mask(3, 4, seg, MaskSpec(isolated=True, cacheable=True))[0, 0], sizes)
    assert both == [[1] * n, [1] * n] + [[0, 0] + [int(i == j) for j in range(k)] for i in range(k)]


def test_a_mode_string_is_refused():
    with pytest.raises(TypeError, match="MaskSpec"):
        joint_attention_mask(1, 1, [1], "isolated")


def sample(lengths, d=2):
    m = sum(lengths)
    return ConditionSample(
        tokens=torch.randn(m, d), ids=torch.randn(m, 3),
        segment=torch.cat([torch.full((n,), i) for i, n in enumerate(lengths)]).long(),
        lengths=lengths, locked=torch.zeros(len(lengths), dtype=torch.bool),
        category=torch.ones(len(lengths), dtype=torch.long))


def test_collate_pads_and_masks_padding():
    a, b = sample([2, 1]), sample([1])
    batch = ConditionBatch.collate([a, b])
    assert batch.tokens.shape == (2, 3, 2) and batch.valid.tolist() == [[True] * 3, [True, False, False]]
    assert batch.segment.tolist() == [[0, 0, 1], [0, -1, -1]]
    assert torch.equal(batch.tokens[0], a.tokens) and torch.equal(batch.tokens[1, 1:], torch.zeros(2, 2))
    m = batch.attention_mask(2, 3, MaskSpec(isolated=True))
    assert m.shape == (2, 1, 8, 8)
    assert torch.equal(m[0, 0], joint_attention_mask(2, 3, [2, 1], MaskSpec(isolated=True))[0, 0])
    real = 2 + 3 + 1
    assert not m[1, 0, :, real:].any(dim=1)[:real].any()  # no real query sees padding
    assert m[1, 0, real:, real:].equal(torch.eye(2, dtype=torch.bool))  # padding sees itself only
