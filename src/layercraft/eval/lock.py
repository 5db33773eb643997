"""Lock fidelity (LayerComposer sec. 3.3: locked layers are kept, unlocked ones may change).

Inside each locked layer's alpha a ∈ [0, 1] (canvas-aligned), with images x (generated) and y (the
locked layer's pixels) in [0, 1]:

    MSE_a   = Σ a·(x − y)² / (3 Σ a),        PSNR = 10 log10(1 / MSE_a)   (∞ when identical)
    SSIM_a  = Σ a·SSIM(x, a·y + (1 − a)·x) / Σ a   (scikit-image SSIM map, channel-averaged)

i.e. SSIM of the output against the output with the locked layer pasted over it, so that windows
straddling the alpha edge compare only what lies inside the layer.

Gain-normalised variants first fit one gain per channel, g_c = Σ a x_c y_c / Σ a x_c², and score
clip(g·x, 0, 1): a relit but otherwise untouched layer then scores like an exact copy, because the
model may legitimately change the lighting of a locked subject.

Averages over layers cap PSNR at 100 dB (an exact copy is ∞ per layer; `scoring.score_lock`).

Unlocked-layer variation rate: the share of unlocked subjects whose predicted pose / expression in
the output differs from the reference layer's (a model that only copies scores 0).
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def _float(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    return img.astype(np.float64) / 255.0 if img.dtype == np.uint8 else img.astype(np.float64)


def channel_gain(x: np.ndarray, y: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(3,) per-channel least-squares gain g minimising Σ a (g x − y)²; x, y (H, W, 3), alpha (H, W)."""
    a = alpha[..., None]
    num, den = (a * x * y).sum((0, 1)), (a * x * x).sum((0, 1))
    return np.where(den > 0, num / np.where(den > 0, den, 1), 1.0)


def masked_psnr(x: np.ndarray, y: np.ndarray, alpha: np.ndarray) -> float:
    """PSNR (dB, peak 1) of x against y weighted by alpha; inf when equal inside the mask."""
    x, y, a = _float(x), _float(y), np.asarray(alpha, np.float64)
    mse = float((a[..., None] * (x - y) ** 2).sum() / (3 * a.sum()))
    return float("inf") if mse <= 1e-20 else float(10 * np.log10(1.0 / mse))


def masked_ssim(x: np.ndarray, y: np.ndarray, alpha: np.ndarray) -> float:
    """SSIM map (7×7 window, data range 1) of x against y pasted over x, averaged with weights alpha."""
    x, y, a = _float(x), _float(y), np.asarray(alpha, np.float64)
    pasted = a[..., None] * y + (1 - a[..., None]) * x
    _, smap = structural_similarity(x, pasted, channel_axis=2, data_range=1.0, full=True)  # smap (H, W, 3)
    return float((a * smap.mean(-1)).sum() / a.sum())


def layer_fidelity(gen: np.ndarray, layer_rgba: np.ndarray) -> dict:
    """Raw and gain-normalised PSNR / SSIM of `gen` (H, W, 3) inside a locked layer (H, W, 4)."""
    rgba = _float(layer_rgba)
    y, a = rgba[..., :3], rgba[..., 3]
    if a.sum() <= 0:
        raise ValueError("locked layer has an empty alpha")
    x = _float(gen)
    g = channel_gain(x, y, a)
    xn = np.clip(x * g, 0.0, 1.0)
    return {
        "psnr": masked_psnr(x, y, a),
        "ssim": masked_ssim(x, y, a),
        "psnr_gain": masked_psnr(xn, y, a),
        "ssim_gain": masked_ssim(xn, y, a),
        "gain": [float(v) for v in g],
    }


def variation_rate(ref: list[dict | None], gen: list[dict | None], keys=("pose", "expression")) -> dict:
    """Share of subjects whose attribute changed, per key and for any key.

    `ref[i]` / `gen[i]`: attributes of unlocked subject i in the reference layer and the output
    (None when the subject was not detected: skipped and counted in `n_missing`).
    """
    pairs = [(r, g) for r, g in zip(ref, gen, strict=True) if r is not None and g is not None]
    out: dict = {"n": len(pairs), "n_missing": len(ref) - len(pairs)}
    for k in keys:
        out[k] = float(np.mean([r[k] != g[k] for r, g in pairs])) if pairs else None
    out["any"] = float(np.mean([any(r[k] != g[k] for k in keys) for r, g in pairs])) if pairs else None
    return out
