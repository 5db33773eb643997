"""Layout-and-Retouch step blending (sec. 3.2.1), measured: the λ1 sweep.

A DreamBooth LoRA fits its few reference photos, layouts included; letting the vanilla model with the class
prompt run the first λ1 steps restores layout diversity. For each λ1 the same (prompt, seed) grid is generated
with `LayoutRetouchFluxPipeline.step_blended`; in each image the most confident person detection gives a centre
point and an identity embedding. Reported per λ1: centre-point spread σ² (Layout-and-Retouch Fig. 1; `centre_spread`),
identity similarity to the subject (cosine to the mean embedding of the instance images), and the detection rate.
The claim holds at λ1 when the spread rises over λ1 = 0 (pure personalized model) while the similarity stays within
10 % of its λ1 = 0 value — and it is only testable when the personalized model carries the identity at all, i.e. its
similarity at λ1 = 0 beats the pure vanilla model's (λ1 = all steps) by `MIN_IDENTITY_GAIN`.
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


@dataclass
class SweepRow:
    blend_steps: int
    spread: float | None  # σ² of normalised centre points over detected images
    sim: float | None  # mean cosine to the subject's reference embedding
    detected: float  # fraction of images with a person detection
    n_images: int


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


def measure(images: list[np.ndarray], detector, identity, reference: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Per image: the best person detection → (centre points (M, 2), cosine similarities [M])."""
    points, sims = [], []
    for arr in images:
        det = detector.detect(arr).of_label(0)
        if not len(det):
            continue
        box = det.boxes[np.argmax(det.scores)]
        points.append(centres(box[None], arr.shape[1], arr.shape[0])[0])
        e = identity.embed(arr, box[None])[0]
        sims.append(float(e @ reference / max(np.linalg.norm(e), 1e-8)))
    return np.asarray(points).reshape(-1, 2), sims


@torch.no_grad()
def blend_sweep(pipe, prompts: list[tuple[str, str]], blend_steps: list[int], seeds: list[int], steps: int,
                size: int, detector, identity, reference: np.ndarray, true_cfg: float = 1.0,
                image_dir: Path | None = None) -> list[SweepRow]:
    """prompts: (class prompt y_p, instance prompt y_r) pairs; every λ1 sees the same noise for each (prompt, seed)."""
    from ..conditioning import pack
    from ..pipelines.lcp.flux_common import decode

    grid = (size // pipe.stride, size // pipe.stride)
    rows = []
    for lam in blend_steps:
        images = []
        for k, (y_p, y_r) in enumerate(prompts):
            canvas = Canvas(width=size, height=size, prompt=y_r)
            for seed in seeds:
                g = torch.Generator("cpu").manual_seed(1000 * k + seed)
                noise = torch.randn(1, pipe.latent_channels, grid[0] * 2, grid[1] * 2, generator=g)
                z = pipe.step_blended(y_p, y_r, canvas, pack(noise[0])[None], steps, lam, true_cfg_scale=true_cfg)
                images.append(np.asarray(decode(pipe, z, grid, "pil")[0].convert("RGB")))
        points, sims = measure(images, detector, identity, reference)
        rows.append(SweepRow(lam, centre_spread(points), float(np.mean(sims)) if sims else None,
                             len(sims) / len(images), len(images)))
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
    """The λ1 > 0 where spread rises over λ1 = 0 and similarity stays within `SIM_TOLERANCE` of it; none when the
    personalized model does not carry the identity (`identity_carried`)."""
    base = next((r for r in rows if r.blend_steps == 0), None)
    if base is None or base.spread is None or base.sim is None or not identity_carried(rows):
        return []
    return [r.blend_steps for r in rows if r.blend_steps > 0 and r.spread is not None and r.sim is not None
            and r.spread > base.spread and r.sim >= (1 - SIM_TOLERANCE) * base.sim]


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
