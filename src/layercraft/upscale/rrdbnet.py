"""RRDBNet, the ESRGAN / Real-ESRGAN ×4 generator, and loading its weights from an ncnn graph.

conv_first (3 → nf) → trunk of RRDB blocks → conv_body, added to conv_first's output → nearest ×2, conv, LeakyReLU
→ nearest ×2, conv, LeakyReLU → conv_hr, LeakyReLU → conv_last (nf → 3). An RRDB is three residual dense blocks
and a 0.2-scaled residual around them; a residual dense block is five 3×3 convs, each reading the block input
concatenated with every earlier conv's output (growth gc channels each), LeakyReLU 0.2 after the first four, the
fifth (→ nf) added back to the input scaled by 0.2. Images are RGB in [0, 1], in and out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .ncnn import ConvWeights, Graph, NcnnFormatError

RESIDUAL_SCALE = 0.2
SLOPE = 0.2


class ResidualDenseBlock(nn.Module):
    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(nf + i * gc, gc if i < 4 else nf, 3, padding=1) for i in range(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs[:4]:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), SLOPE))
        return x + RESIDUAL_SCALE * self.convs[4](torch.cat(feats, 1))


class RRDB(nn.Module):
    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.rdbs = nn.Sequential(*(ResidualDenseBlock(nf, gc) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.rdbs(x)


class RRDBNet(nn.Module):
    scale = 4

    def __init__(self, num_block: int = 23, nf: int = 64, gc: int = 32):
        super().__init__()
        self.num_block, self.nf, self.gc = num_block, nf, gc
        self.conv_first = nn.Conv2d(3, nf, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(nf, gc) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv_up1 = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv_up2 = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv_hr = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv_last = nn.Conv2d(nf, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")), SLOPE)
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")), SLOPE)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), SLOPE))

    def convs_in_order(self) -> list[tuple[str, nn.Conv2d, bool]]:
        """(name, conv, followed by LeakyReLU) in the order the exported graph runs them."""
        out: list[tuple[str, nn.Conv2d, bool]] = [("conv_first", self.conv_first, False)]
        for b, block in enumerate(self.body):
            for r, rdb in enumerate(block.rdbs):
                out += [(f"body.{b}.rdb{r + 1}.conv{i + 1}", conv, i < 4) for i, conv in enumerate(rdb.convs)]
        out += [("conv_body", self.conv_body, False), ("conv_up1", self.conv_up1, True),
                ("conv_up2", self.conv_up2, True), ("conv_hr", self.conv_hr, True),
                ("conv_last", self.conv_last, False)]
        return out


def _activation(layer) -> tuple[int, tuple]:
    params = layer.get(10, ())
    return int(layer.get(9, 0)), tuple(params) if isinstance(params, tuple) else (params,)


def from_ncnn(graph: Graph, weights: list[ConvWeights], source: str = "model") -> RRDBNet:
    """An RRDBNet holding the graph's weights; the graph must be an RRDBNet export, checked layer by layer: every
    conv's shape and activation, the 0.2 residual scalings, the two nearest ×2 resizes."""
    convs = graph.of_type("Convolution")
    if (len(convs) - 6) % 15 or len(convs) < 21:
        raise NcnnFormatError(f"{source}: {len(convs)} convolutions is not an RRDBNet (6 + 15 per RRDB block)")
    num_block = (len(convs) - 6) // 15
    nf = int(convs[0].get(0))
    gc = int(convs[1].get(0))
    net = RRDBNet(num_block, nf, gc)
    plan = net.convs_in_order()
    by_name = {w.layer: w for w in weights}
    for (name, conv, leaky), layer in zip(plan, convs, strict=True):
        w = by_name.get(layer.name)
        if w is None:
            raise NcnnFormatError(f"{source}: no weights for {layer.name}")
        if tuple(w.weight.shape) != tuple(conv.weight.shape) or w.bias is None or w.bias.shape != conv.bias.shape:
            raise NcnnFormatError(f"{source}: {layer.name} ({name}) has weight {tuple(w.weight.shape)}, RRDBNet("
                                  f"{num_block}, {nf}, {gc}) expects {tuple(conv.weight.shape)} with a bias")
        if int(layer.get(4, 0)) != 1:
            raise NcnnFormatError(f"{source}: {layer.name} ({name}) is not padded by 1")
        act, params = _activation(layer)
        ok = act == 2 and len(params) == 1 and abs(params[0] - SLOPE) < 1e-6 if leaky else act == 0
        if not ok:
            raise NcnnFormatError(f"{source}: {layer.name} ({name}) has activation {act} {params}, expected "
                                  f"{'LeakyReLU 0.2' if leaky else 'none'}")
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w.weight))
            conv.bias.copy_(torch.from_numpy(w.bias))
    elt = graph.of_type("Eltwise")
    if len(elt) != 4 * num_block:
        raise NcnnFormatError(f"{source}: {len(elt)} residual additions, an RRDBNet of {num_block} blocks has "
                              f"{4 * num_block}")
    for layer in elt:
        coeffs = layer.get(1, ())
        if int(layer.get(0, -1)) != 1 or len(coeffs) != 2 or abs(coeffs[0] - RESIDUAL_SCALE) > 1e-6 \
                or abs(coeffs[1] - 1.0) > 1e-6:
            raise NcnnFormatError(f"{source}: {layer.name} is not a 0.2-scaled residual sum ({layer.params})")
    interp = graph.of_type("Interp")
    if len(interp) != 2 or any(int(i.get(0, 0)) != 1 or float(i.get(1, 0)) != 2.0 or float(i.get(2, 0)) != 2.0
                               for i in interp):
        raise NcnnFormatError(f"{source}: the upsampling is not two nearest ×2 resizes")
    if len(graph.of_type("BinaryOp")) != 1:
        raise NcnnFormatError(f"{source}: expected one trunk residual addition")
    return net.eval()
