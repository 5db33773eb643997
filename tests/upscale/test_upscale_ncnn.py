"""The ncnn reader on the real Real-ESRGAN files: every layer and every byte accounted for, every conv shape."""

from __future__ import annotations

from collections import Counter

import pytest

from layercraft.upscale import NcnnFormatError, RRDBNet, read_param, read_weights
from layercraft.upscale.ncnn import parse_param
from layercraft.vision.assets import model_path


@pytest.mark.parametrize(("name", "blocks"), [("realesrgan-x4plus-anime", 6), ("realesrgan-x4plus", 23)])
def test_both_files_parse_with_every_layer_and_byte_accounted_for(name, blocks):
    param, weights = model_path(f"{name}.param"), model_path(f"{name}.bin")
    lines = param.read_text().split("\n")
    n_layers, n_blobs = map(int, lines[1].split())
    graph = read_param(param)
    assert len(graph.layers) == n_layers and graph.blob_count == n_blobs
    kinds = Counter(layer.type for layer in graph.layers)
    # per RRDB: 3 dense blocks × 5 convs, 4 concats each, 4 splits each, 4 residual sums (3 + 1)
    assert kinds == {"Input": 1, "Convolution": 15 * blocks + 6, "Concat": 12 * blocks, "Split": 12 * blocks,
                     "Eltwise": 4 * blocks, "BinaryOp": 1, "Interp": 2}
    data = weights.read_bytes()
    convs = read_weights(graph, data, weights.name)
    expected = RRDBNet(blocks).convs_in_order()
    assert len(convs) == len(expected)
    total = 0
    for got, (where, conv, _) in zip(convs, expected, strict=True):
        assert got.weight.shape == tuple(conv.weight.shape), where
        assert got.bias is not None and got.bias.shape == (conv.out_channels,), where
        assert got.stored_as == "fp16"
        total += 4 + (got.weight.size * 2 + 3) // 4 * 4 + 4 * got.bias.size  # tag + fp16 (4-aligned) + fp32 bias
    assert total == len(data)
    assert sum(c.weight.size + c.bias.size for c in convs) == sum(p.numel() for p in RRDBNet(blocks).parameters())


def test_truncated_or_padded_weights_and_bad_param_text_are_named(anime_files):
    param, weights = anime_files
    graph = read_param(param)
    data = weights.read_bytes()
    with pytest.raises(NcnnFormatError, match="truncated"):
        read_weights(graph, data[: len(data) // 2], "cut.bin")
    with pytest.raises(NcnnFormatError, match="4 bytes left"):
        read_weights(graph, data + b"\0\0\0\0", "long.bin")
    bad_tag = b"\x01\x02\x03\x04" + data[4:]
    with pytest.raises(NcnnFormatError, match="storage tag 0x04030201"):
        read_weights(graph, bad_tag, "tag.bin")
    text = param.read_text()
    with pytest.raises(NcnnFormatError, match="not an ncnn param file"):
        parse_param("7767518\n" + text.split("\n", 1)[1])
    with pytest.raises(NcnnFormatError, match="header says 268 layers"):
        parse_param(text.rsplit("\n", 2)[0])
    with pytest.raises(NcnnFormatError, match="reads blob"):
        parse_param(text.replace(" 1 1 data 193 ", " 1 1 nowhere 193 ", 1))
