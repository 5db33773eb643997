"""×4 upscaling with the bundled Real-ESRGAN weights, whole or in overlapping tiles with bounded memory.

    from layercraft.upscale import Upscaler
    big = Upscaler.from_bundled("anime").upscale(image)      # PIL image in, 4× larger PIL image out

Tiling: an image larger than `tile` pixels on a side is cut into tiles of `tile` × `tile` input pixels that
overlap by `overlap`; each tile runs with `pad` more pixels of context on every side (cropped off again), and
overlapping tiles are blended with linear ramps across the overlap, so seams do not show. Tiles run one row at a
time and finished output rows are written out as soon as the next row of tiles cannot touch them: the float
memory is one band of tiles, not the whole output. One network call sees at most (tile + 2·pad)² input pixels
(≤ 224² by default: images up to 192² run whole).

The network's receptive field is wide (15 stacked 3×3 convs per RRDB block), so a tile's context pad cannot make
it bit-equal to the whole-image run: with 16 pixels of context the two differ by ≤ 22/255 near a seam (mean
≈ 0.85/255) and ≤ 10/255 more than 16 output pixels from one (mean ≈ 0.4/255; measured in tests/upscale).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .ncnn import NcnnFormatError, read_model
from .rrdbnet import RRDBNet, from_ncnn

# kind → (param file, bin file, what it is for); the files are bundled assets (layercraft.vision.assets)
MODELS = {
    "photo": ("realesrgan-x4plus.param", "realesrgan-x4plus.bin",
              "Real-ESRGAN x4plus: photographs (23 RRDB blocks)"),
    "anime": ("realesrgan-x4plus-anime.param", "realesrgan-x4plus-anime.bin",
              "Real-ESRGAN x4plus anime: flat-colour art like the studio world's (6 RRDB blocks)"),
}
MAX_INPUT_PIXELS = 2048 * 2048  # output 8192² RGB = 192 MiB of uint8
# activation bytes of one network call per input pixel (64 fp32 channels at 16× the pixels, ≈ 3 alive at once)
BYTES_PER_INPUT_PIXEL = 64 * 16 * 4 * 3


class UpscaleError(ValueError):
    """The upscaler cannot take this input or these model files (one-line message)."""


@dataclass(frozen=True)
class TilePlan:
    rows: tuple[tuple[int, int], ...]  # input-pixel spans [start, end) of the tile rows
    cols: tuple[tuple[int, int], ...]
    pad: int

    @property
    def tiles(self) -> int:
        return len(self.rows) * len(self.cols)

    @property
    def max_call_pixels(self) -> int:
        """The most input pixels one network call sees."""
        h = max(e - s for s, e in self.rows) + 2 * self.pad
        w = max(e - s for s, e in self.cols) + 2 * self.pad
        return h * w


def spans(length: int, tile: int, overlap: int) -> tuple[tuple[int, int], ...]:
    """[start, end) windows of at most `tile` covering [0, length), neighbours overlapping by at least `overlap`: as
    few windows as that allows, all of one size and spread evenly (no three overlap, no window mostly overlap)."""
    if length <= tile:
        return ((0, length),)
    n = -(-(length - overlap) // (tile - overlap))
    size = -(-(length - overlap) // n) + overlap
    starts = [round(i * (length - size) / (n - 1)) for i in range(n)]
    return tuple((s, s + size) for s in starts)


def _ramp(start: int, end: int, prev_end: int | None, next_start: int | None, scale: int) -> np.ndarray:
    """Per-output-pixel blend weights of one tile along one axis: rising across the overlap with the previous tile,
    falling across the overlap with the next, 1 elsewhere (never 0)."""
    n = (end - start) * scale
    w = np.ones(n, np.float32)
    if prev_end is not None and prev_end > start:
        k = (prev_end - start) * scale
        w[:k] = np.minimum(w[:k], (np.arange(k, dtype=np.float32) + 0.5) / k)
    if next_start is not None and next_start < end:
        k = (end - next_start) * scale
        w[n - k:] = np.minimum(w[n - k:], 1.0 - (np.arange(k, dtype=np.float32) + 0.5) / k)
    return w


class Upscaler:
    """A ×4 Real-ESRGAN network and how it is run (device, dtype, tiling). Inputs: PIL images (RGB, RGBA — the
    alpha channel is resized bicubically —, L, P) or uint8 H × W × 3 arrays."""

    scale = RRDBNet.scale

    def __init__(self, net: RRDBNet, *, name: str = "model", device: str = "cpu",
                 dtype: torch.dtype = torch.float32, tile: int = 192, overlap: int = 16, pad: int = 16,
                 max_pixels: int = MAX_INPUT_PIXELS):
        if tile < 2 * overlap + 1 or overlap < 1 or pad < 0:
            raise UpscaleError(f"tile {tile} must exceed twice the overlap {overlap} (≥ 1); pad {pad} ≥ 0")
        self.name, self.device, self.dtype = name, device, dtype
        self.tile, self.overlap, self.pad, self.max_pixels = tile, overlap, pad, max_pixels
        self.net = net.eval().to(device=device, dtype=dtype, memory_format=torch.channels_last)
        for p in self.net.parameters():
            p.requires_grad_(False)

    # ---- construction -----------------------------------------------------------------------------------
    @classmethod
    def from_files(cls, param: str | Path, weights: str | Path, **kw) -> Upscaler:
        """From an ncnn `.param` / `.bin` pair of an RRDBNet ×4 export (UpscaleError if they are not one)."""
        param, weights = Path(param), Path(weights)
        for path in (param, weights):
            if not path.is_file():
                raise UpscaleError(f"model file not found: {path}")
        try:
            graph, convs = read_model(param, weights)
            net = from_ncnn(graph, convs, param.stem)
        except NcnnFormatError as err:
            raise UpscaleError(str(err)) from None
        return cls(net, name=kw.pop("name", param.stem), **kw)

    @classmethod
    def from_bundled(cls, kind: str = "anime", *, device: str = "auto", dtype: str = "auto", **kw) -> Upscaler:
        """The bundled Real-ESRGAN weights: `photo` (x4plus) or `anime` (x4plus anime), installed by
        `python3 make.py` (ModelMissingError, with the install command, when they are not)."""
        from ..devices import resolve_placement
        from ..vision.assets import model_path

        if kind not in MODELS:
            raise UpscaleError(f"unknown upscaler {kind!r}; choose from {', '.join(MODELS)}")
        param, weights, _ = MODELS[kind]
        try:
            target, torch_dtype = resolve_placement(device, dtype)
        except ValueError as err:
            raise UpscaleError(str(err)) from None
        return cls.from_files(model_path(param), model_path(weights), name=kind, device=target,
                              dtype=torch_dtype, **kw)

    # ---- running ------------------------------------------------------------------------------------------
    def plan(self, width: int, height: int, tile: int | None = None) -> TilePlan:
        """The tiles an image of this size runs as (`tile` 0: one call for the whole image)."""
        tile = self.tile if tile is None else tile
        if tile == 0:
            return TilePlan(((0, height),), ((0, width),), 0)
        if tile < 2 * self.overlap + 1:
            raise UpscaleError(f"tile {tile} must exceed twice the overlap {self.overlap}")
        return TilePlan(spans(height, tile, self.overlap), spans(width, tile, self.overlap), self.pad)

    def check(self, width: int, height: int) -> None:
        """UpscaleError when an image of this size cannot be upscaled (empty, or over max_pixels)."""
        if width < 1 or height < 1:
            raise UpscaleError(f"empty image ({width}×{height})")
        if width * height > self.max_pixels:
            raise UpscaleError(f"image {width}×{height} is {width * height} pixels; the upscaler takes at most "
                               f"{self.max_pixels} (its ×4 output would be {4 * width}×{4 * height})")

    def _run(self, rgb: np.ndarray) -> np.ndarray:
        """One network call: uint8 h × w × 3 → float32 4h × 4w × 3 in [0, 1]."""
        x = torch.from_numpy(np.array(rgb, np.uint8, copy=True)).permute(2, 0, 1)[None]
        x = x.to(device=self.device, dtype=self.dtype).div_(255.0).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y = self.net(x).clamp_(0.0, 1.0)
        return y[0].permute(1, 2, 0).float().cpu().numpy()

    def upscale_array(self, rgb: np.ndarray, *, tile: int | None = None,
                      progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """uint8 H × W × 3 → uint8 4H × 4W × 3. `tile`: input pixels per tile side (None: this upscaler's; 0:
        untiled); `progress(done, total)` after each tile."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise UpscaleError(f"expected a uint8 H × W × 3 array, got {rgb.dtype} {rgb.shape}")
        height, width = rgb.shape[:2]
        self.check(width, height)
        plan = self.plan(width, height, tile)
        s = self.scale
        out = np.empty((height * s, width * s, 3), np.uint8)
        for y0, y1, band in self._bands(rgb, plan, progress):
            out[y0 * s:y1 * s] = np.rint(band * 255.0).astype(np.uint8)
        return out

    def _bands(self, rgb: np.ndarray, plan: TilePlan,
               progress: Callable[[int, int], None] | None) -> Iterator[tuple[int, int, np.ndarray]]:
        """(first input row, end input row, finished float output rows) band by band."""
        height, width = rgb.shape[:2]
        s, pad, rows, cols = self.scale, plan.pad, plan.rows, plan.cols
        band_start = 0
        acc = np.zeros((0, width * s, 3), np.float32)
        wsum = np.zeros((0, width * s, 1), np.float32)
        done = 0
        for r, (y0, y1) in enumerate(rows):
            need = (y1 - band_start) * s
            if acc.shape[0] < need:
                extra = need - acc.shape[0]
                acc = np.concatenate([acc, np.zeros((extra, width * s, 3), np.float32)])
                wsum = np.concatenate([wsum, np.zeros((extra, width * s, 1), np.float32)])
            wy = _ramp(y0, y1, rows[r - 1][1] if r else None, rows[r + 1][0] if r + 1 < len(rows) else None, s)
            for c, (x0, x1) in enumerate(cols):
                wx = _ramp(x0, x1, cols[c - 1][1] if c else None, cols[c + 1][0] if c + 1 < len(cols) else None, s)
                py0, py1, px0, px1 = max(0, y0 - pad), min(height, y1 + pad), max(0, x0 - pad), min(width, x1 + pad)
                up = self._run(rgb[py0:py1, px0:px1])
                up = up[(y0 - py0) * s:(y1 - py0) * s, (x0 - px0) * s:(x1 - px0) * s]
                w = (wy[:, None] * wx[None, :])[..., None]
                dy = (y0 - band_start) * s
                acc[dy:dy + up.shape[0], x0 * s:x1 * s] += up * w
                wsum[dy:dy + up.shape[0], x0 * s:x1 * s] += w
                done += 1
                if progress is not None:
                    progress(done, plan.tiles)
            final = rows[r + 1][0] if r + 1 < len(rows) else height  # rows the next tile row cannot touch
            k = (final - band_start) * s
            yield band_start, final, acc[:k] / wsum[:k]
            acc, wsum = acc[k:], wsum[k:]
            band_start = final

    def upscale(self, image: Image.Image, *, tile: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> Image.Image:
        """A PIL image 4× larger (RGB, or RGBA when the input has alpha)."""
        if not isinstance(image, Image.Image):
            raise UpscaleError(f"expected a PIL image, got {type(image).__name__}")
        self.check(image.width, image.height)
        has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
        rgba = image.convert("RGBA") if has_alpha else None
        rgb = np.asarray((rgba or image).convert("RGB"))
        out = Image.fromarray(self.upscale_array(rgb, tile=tile, progress=progress), "RGB")
        if rgba is not None:
            alpha = rgba.getchannel("A").resize(out.size, Image.Resampling.BICUBIC)
            out.putalpha(alpha)
        return out

    def __repr__(self) -> str:
        net = self.net
        return (f"Upscaler({self.name!r}, RRDBNet({net.num_block} blocks, {net.nf} features, {net.gc} growth), "
                f"{self.device}, {str(self.dtype).removeprefix('torch.')}, tile {self.tile})")
