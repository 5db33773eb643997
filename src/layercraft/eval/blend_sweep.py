"""Layout-and-Retouch step blending (sec. 3.2.1), measured: the λ1 sweep.

A DreamBooth LoRA fits its few reference photos, layouts included; letting the vanilla model with the class
prompt run the first λ1 steps restores layout diversity. For each λ1 the same (prompt, seed) grid is generated
with `LayoutRetouchFluxPipeline.step_blended`; in each image the most confident person detection gives a centre
point and an identity embedding. Reported per λ1: centre-point spread σ² (Layout-and-Retouch Fig. 1; `centre_spread`),
identity similarity to the subject (cosine to the mean embedding of the instance images), and the detection rate.
The claim holds at λ1 when the spread rises over λ1 = 0 (pure personalized model) — the 95 % interval of the paired
bootstrap difference (images resampled by (prompt, seed), the same noise at every λ1) lies above 0 — while the
similarity stays within 10 % of its λ1 = 0 value. It is only testable when the personalized model carries the
identity at all, i.e. its similarity at λ1 = 0 beats the pure vanilla model's (λ1 = all steps) by
`MIN_IDENTITY_GAIN`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..canvas import Canvas
from .layout import centre_spread, centres

SIM_TOLERANCE = 0.10  # "identity similarity stays within 10 %"
MIN_IDENTITY_GAIN = 0.05  # personalized over vanilla similarity needed before the claim can be judged
N_BOOTSTRAP = 2000


@dataclass
class SweepRow:
    blend_steps: int
    spread: float | None  # σ² of normalised centre points over detected images
    sim: float | None  # mean cosine to the subject's reference embedding
    detected: float  # fraction of images with a person detection
    n_images: int
    spread_delta_lo: float | None = None  # 95 % bootstrap interval of σ²(λ1) − σ²(0); None at λ1 = 0
    spread_delta_hi: float | None = None


def reference_embedding(images: list[Image.Image], detector, identity) -> np.ndarray:
    """Unit mean embedding of the subject over its instance images (best person box in each)."""
    embs = []
    for im in images:
        arr = np.asarray(im.convert("RGB"))
        det = detector.detect(arr).of_label(0)
        if len(det):
            embs.append(identity.embed(arr, det.boxes[np.argmax(det.scores)][None])[0])
    if not embs:
        raise ValueError("no person detected in any instance image: cannot build the reference embedding")
    e = np.mean(embs, 0)
    return e / np.linalg.norm(e)


def measure_each(images: list[np.ndarray], detector, identity,
                 reference: np.ndarray) -> list[tuple[np.ndarray | None, float | None]]:
    """Per image: the best person detection → (normalised centre point (2,), cosine similarity), or (None, None)."""
    out = []
    for arr in images:
        det = detector.detect(arr).of_label(0)
        if not len(det):
            out.append((None, None))
            continue
        box = det.boxes[np.argmax(det.scores)]
        e = identity.embed(arr, box[None])[0]
        out.append((centres(box[None], arr.shape[1], arr.shape[0])[0],
                    float(e @ reference / max(np.linalg.norm(e), 1e-8))))
    return out


def measure(images: list[np.ndarray], detector, identity, reference: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Detected images only: (centre points (M, 2), cosine similarities [M])."""
    found = [(p, s) for p, s in measure_each(images, detector, identity, reference) if p is not None]
    return np.asarray([p for p, _ in found]).reshape(-1, 2), [s for _, s in found]


def spread_delta_interval(base: list[np.ndarray | None], other: list[np.ndarray | None], n_boot: int = N_BOOTSTRAP,
                          seed: int = 0) -> tuple[float, float] | None:
    """95 % paired-bootstrap interval of centre_spread(other) − centre_spread(base); image k of both lists shares
    its (prompt, seed). None when too few images have detections."""
    if len(base) != len(other):
        raise ValueError(f"paired lists differ in length: {len(base)} vs {len(other)}")
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(base), len(base))
        a = centre_spread(np.asarray([base[i] for i in idx if base[i] is not None]))
        b = centre_spread(np.asarray([other[i] for i in idx if other[i] is not None]))
        if a is not None and b is not None:
            deltas.append(b - a)
    if len(deltas) < n_boot // 2:
        return None
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    return float(lo), float(hi)


@torch.no_grad()
def blend_sweep(pipe, prompts: list[tuple[str, str]], blend_steps: list[int], seeds: list[int], steps: int,
                size: int, detector, identity, reference: np.ndarray, true_cfg: float = 1.0,
                image_dir: Path | None = None) -> list[SweepRow]:
    """prompts: (class prompt y_p, instance prompt y_r) pairs; every λ1 sees the same noise for each (prompt, seed)."""
    from ..conditioning import pack
    from ..pipelines.lcp.flux_common import decode

    if not blend_steps or blend_steps[0] != 0:
        raise ValueError(f"the sweep must start at λ1 = 0 (the personalized model), got {blend_steps}")
    grid = (size // pipe.stride, size // pipe.stride)
    rows, base_points = [], []
    for lam in blend_steps:
        images = []
        for k, (y_p, y_r) in enumerate(prompts):
            canvas = Canvas(width=size, height=size, prompt=y_r)
            for seed in seeds:
                g = torch.Generator("cpu").manual_seed(1000 * k + seed)
                noise = torch.randn(1, pipe.latent_channels, grid[0] * 2, grid[1] * 2, generator=g)
                z = pipe.step_blended(y_p, y_r, canvas, pack(noise[0])[None], steps, lam, true_cfg_scale=true_cfg)
                images.append(np.asarray(decode(pipe, z, grid, "pil")[0].convert("RGB")))
        found = measure_each(images, detector, identity, reference)
        points = [p for p, _ in found]
        sims = [x for _, x in found if x is not None]
        base_points = base_points if lam else points  # λ1 = 0 is swept first (see the check above)
        ci = spread_delta_interval(base_points, points) if lam else None
        rows.append(SweepRow(lam, centre_spread(np.asarray([p for p in points if p is not None])),
                             float(np.mean(sims)) if sims else None, len(sims) / len(images), len(images),
                             *(ci if ci is not None else (None, None))))
        if image_dir is not None:
            image_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.concatenate(images[: len(seeds) * 2], 1)).save(image_dir / f"lambda{lam:02d}.png")
    return rows


def identity_carried(rows: list[SweepRow]) -> bool:
    """Does the personalized model (λ1 = 0) carry the subject better than the vanilla one (largest λ1)?"""
    base = next((r for r in rows if r.blend_steps == 0), None)
    vanilla = max(rows, key=lambda r: r.blend_steps)
    return (base is not None and base.sim is not None and vanilla.sim is not None and vanilla is not base
            and base.sim >= vanilla.sim + MIN_IDENTITY_GAIN)


def holds(rows: list[SweepRow]) -> list[int]:
    """The λ1 > 0 where spread rises over λ1 = 0 (`_spread_rises`) and similarity stays within `SIM_TOLERANCE` of
    it; none when the personalized model does not carry the identity (`identity_carried`)."""
    base = next((r for r in rows if r.blend_steps == 0), None)
    if base is None or base.spread is None or base.sim is None or not identity_carried(rows):
        return []
    return [r.blend_steps for r in rows if r.blend_steps > 0 and r.spread is not None and r.sim is not None
            and _spread_rises(r, base) and r.sim >= (1 - SIM_TOLERANCE) * base.sim]


def _spread_rises(row: SweepRow, base: SweepRow) -> bool:
    """By the bootstrap interval when the sweep measured one, else by the point values."""
    if row.spread_delta_lo is not None:
        return row.spread_delta_lo > 0
    return row.spread > base.spread


def write_sweep(rows: list[SweepRow], out: Path, meta: dict) -> None:
    """sweep.csv, sweep.json (rows, meta, the λ1 where the claim holds) and sweep.png (spread and sim vs λ1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    with (out / "sweep.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
        w.writeheader()
        w.writerows(asdict(r) for r in rows)
    (out / "sweep.json").write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows],
                                                "identity_carried": identity_carried(rows),
                                                "claim_holds_at": holds(rows)}, indent=2))
    lam = [r.blend_steps for r in rows]
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    ax.plot(lam, [r.spread if r.spread is not None else np.nan for r in rows], "o-", color="C0")
    ax.set_xlabel(f"λ1 (vanilla steps of {meta.get('steps', 0)})")
    ax.set_ylabel("centre-point spread σ²", color="C0")
    ax2 = ax.twinx()
    ax2.plot(lam, [r.sim if r.sim is not None else np.nan for r in rows], "s--", color="C1")
    ax2.set_ylabel("identity similarity", color="C1")
    ax.grid(alpha=0.3)
    ax.set_title("Layout-and-Retouch step blending: λ1 sweep")
    fig.tight_layout()
    fig.savefig(out / "sweep.png", dpi=110)
    plt.close(fig)
