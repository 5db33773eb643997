"""Reading ncnn model files: the `.param` graph text and the `.bin` weight blob, without ncnn itself.

`.param` (text): a magic line `7767517`; a line `<layer count> <blob count>`; then one line per layer:
`<type> <name> <n inputs> <n outputs> <input blobs…> <output blobs…> <k=v params…>`. A key is an integer; a
negative key `-233xx` holds an array, written `-233xx=<n>,<v1>,…,<vn>` (the array key is xx below −23300).

`.bin` (binary): the weights of the layers that have any, in layer order, back to back. For a Convolution: its
weight blob (`6=` values, laid out out-channel × in-channel × kh × kw) starts with a 4-byte tag that names the
storage: 0x01306B47 → fp16 (padded to a multiple of 4 bytes), 0 → fp32; then its bias (`0=` fp32 values, no
tag) when `5=1`. Every other layer type these files use (Input, Split, Concat, Eltwise, BinaryOp, Interp) has no
weights. The reader checks that the weights consume the file exactly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = "7767517"
TAG_FP16 = 0x01306B47
TAG_FP32 = 0x00000000
WEIGHTLESS = frozenset({"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp"})


class NcnnFormatError(ValueError):
    """A malformed or unsupported ncnn file (the message names the file and what is wrong)."""


@dataclass(frozen=True)
class Layer:
    type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, object] = field(default_factory=dict)  # int key → int | float | tuple (arrays)

    def get(self, key: int, default: object = None) -> object:
        return self.params.get(key, default)


@dataclass(frozen=True)
class Graph:
    layers: tuple[Layer, ...]
    blob_count: int

    def of_type(self, kind: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.type == kind]


@dataclass(frozen=True)
class ConvWeights:
    layer: str
    weight: np.ndarray  # float32, (out, in, kh, kw)
    bias: np.ndarray | None  # float32, (out,)
    stored_as: str  # "fp16" or "fp32"


def _number(text: str, where: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise NcnnFormatError(f"{where}: {text!r} is not a number") from None


def parse_param(text: str, source: str = ".param") -> Graph:
    """The layer graph of a `.param` file's text; every layer line and blob count checked."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != MAGIC:
        raise NcnnFormatError(f"{source}: not an ncnn param file (first line {lines[0][:20] if lines else ''!r}, "
                              f"expected {MAGIC})")
    try:
        n_layers, n_blobs = (int(v) for v in lines[1].split())
    except (IndexError, ValueError):
        raise NcnnFormatError(f"{source}: line 2 must be '<layer count> <blob count>'") from None
    if len(lines) - 2 != n_layers:
        raise NcnnFormatError(f"{source}: header says {n_layers} layers, file has {len(lines) - 2} layer lines")
    layers, blobs = [], set()
    for lineno, line in enumerate(lines[2:], start=3):
        where = f"{source} line {lineno}"
        parts = line.split()
        if len(parts) < 4:
            raise NcnnFormatError(f"{where}: a layer line needs type, name, input and output counts")
        kind, name = parts[0], parts[1]
        try:
            n_in, n_out = int(parts[2]), int(parts[3])
        except ValueError:
            raise NcnnFormatError(f"{where}: input/output counts {parts[2]!r} {parts[3]!r} are not integers") from None
        if len(parts) < 4 + n_in + n_out:
            raise NcnnFormatError(f"{where}: {n_in} inputs and {n_out} outputs named but fewer blobs listed")
        inputs = tuple(parts[4:4 + n_in])
        outputs = tuple(parts[4 + n_in:4 + n_in + n_out])
        params: dict[int, object] = {}
        for item in parts[4 + n_in + n_out:]:
            key_text, eq, value = item.partition("=")
            if not eq:
                raise NcnnFormatError(f"{where}: parameter {item!r} is not k=v")
            key = _number(key_text, where)
            if not isinstance(key, int):
                raise NcnnFormatError(f"{where}: parameter key {key_text!r} is not an integer")
            if key <= -23300:
                values = value.split(",")
                count = _number(values[0], where)
                if count != len(values) - 1:
                    raise NcnnFormatError(f"{where}: array parameter {key_text} says {count} values, has "
                                          f"{len(values) - 1}")
                params[-key - 23300] = tuple(_number(v, where) for v in values[1:])
            else:
                params[key] = _number(value, where)
        blobs.update(outputs)
        layers.append(Layer(kind, name, inputs, outputs, params))
    if len(blobs) != n_blobs:
        raise NcnnFormatError(f"{source}: header says {n_blobs} blobs, layers produce {len(blobs)}")
    produced: set[str] = set()
    for layer in layers:
        missing = [b for b in layer.inputs if b not in produced]
        if missing:
            raise NcnnFormatError(f"{source}: layer {layer.name} reads blob {missing[0]} before any layer makes it")
        produced.update(layer.outputs)
    return Graph(tuple(layers), n_blobs)


def read_param(path: str | Path) -> Graph:
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise NcnnFormatError(f"{path.name}: not an ncnn param file (not ASCII text)") from None
    return parse_param(text, path.name)


def read_weights(graph: Graph, data: bytes, source: str = ".bin") -> list[ConvWeights]:
    """Each Convolution's weights in layer order, read from the `.bin` bytes; the bytes must be used up exactly."""
    unknown = sorted({layer.type for layer in graph.layers} - WEIGHTLESS - {"Convolution"})
    if unknown:
        raise NcnnFormatError(f"{source}: layer types {', '.join(unknown)} are not supported by this reader")
    offset, out = 0, []
    for layer in graph.of_type("Convolution"):
        n_out, k = int(layer.get(0, 0)), int(layer.get(1, 1))
        size, has_bias = int(layer.get(6, 0)), int(layer.get(5, 0)) == 1
        if int(layer.get(11, k)) != k or int(layer.get(2, 1)) != 1 or int(layer.get(3, 1)) != 1:
            raise NcnnFormatError(f"{source}: {layer.name}: only square, undilated, stride-1 kernels are supported")
        if n_out <= 0 or size <= 0 or size % (n_out * k * k):
            raise NcnnFormatError(f"{source}: {layer.name}: weight count {size} is not out {n_out} × in × {k}×{k}")
        n_in = size // (n_out * k * k)
        if offset + 4 > len(data):
            raise NcnnFormatError(f"{source}: truncated: ends at byte {len(data)} before {layer.name}'s weights")
        (tag,) = struct.unpack_from("<I", data, offset)
        offset += 4
        if tag == TAG_FP16:
            nbytes, dtype, stored = size * 2, np.dtype("<f2"), "fp16"
            padded = (nbytes + 3) // 4 * 4
        elif tag == TAG_FP32:
            nbytes, dtype, stored = size * 4, np.dtype("<f4"), "fp32"
            padded = nbytes
        else:
            raise NcnnFormatError(f"{source}: {layer.name}: weight storage tag 0x{tag:08X} is not supported "
                                  "(fp16 0x01306B47 or fp32 0)")
        need = padded + (4 * n_out if has_bias else 0)
        if offset + need > len(data):
            raise NcnnFormatError(f"{source}: truncated: {layer.name} needs {need} bytes at {offset}, file has "
                                  f"{len(data) - offset}")
        weight = np.frombuffer(data, dtype, size, offset).astype(np.float32).reshape(n_out, n_in, k, k)
        offset += padded
        bias = None
        if has_bias:
            bias = np.frombuffer(data, np.dtype("<f4"), n_out, offset).astype(np.float32)
            offset += 4 * n_out
        if not (np.isfinite(weight).all() and (bias is None or np.isfinite(bias).all())):
            raise NcnnFormatError(f"{source}: {layer.name}: weights are not finite (corrupt file)")
        out.append(ConvWeights(layer.name, weight, bias, stored))
    if offset != len(data):
        raise NcnnFormatError(f"{source}: {len(data) - offset} bytes left after the last layer's weights "
                              f"(read {offset} of {len(data)}): the file does not match the param file")
    return out


def read_model(param: str | Path, weights: str | Path) -> tuple[Graph, list[ConvWeights]]:
    graph = read_param(param)
    return graph, read_weights(graph, Path(weights).read_bytes(), Path(weights).name)
