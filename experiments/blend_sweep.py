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

With a reference image the sweep also runs stage 2, retouch (sec. 3.2.2, Algorithm 1), on every layout image —
the whole Layout-and-Retouch method — and measures the retouched images the same way. Their claim is judged
against the same baseline, the personalized model alone (λ1 = 0, no retouch): spread interval above 0 and
similarity within 10 %. M^SAM is the detector's best person box on the layout image (no segmenter here).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from layercraft.canvas import Canvas
from layercraft.eval.layout import centre_spread, centres

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
    # the same after retouch (None when the sweep ran without it); the interval is against the λ1 = 0 layouts
    retouched_spread: float | None = None
    retouched_sim: float | None = None
    retouched_detected: float | None = None
    retouched_delta_lo: float | None = None
    retouched_delta_hi: float | None = None
    # what step blending adds inside the whole method: retouched σ²(λ1) − retouched σ²(0), 95 % interval
    retouched_step_delta_lo: float | None = None
    retouched_step_delta_hi: float | None = None
    # per image, in (prompt, seed) order: [x, y, sim] of the best person detection or None (not in sweep.csv)
    per_image: list = field(default_factory=list, repr=False)
    retouched_per_image: list | None = field(default=None, repr=False)


PER_IMAGE = ("per_image", "retouched_per_image")
Found = list[tuple[np.ndarray | None, float | None]]  # per image: (normalised centre (2,), similarity) or (None, None)


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


def sweep_prompts(n: int, size: int) -> list[tuple[str, str]]:
    """(class prompt y_p, instance prompt y_r) pairs: the captions of `n` held-out single-person world scenes."""
    from layercraft.training.tasks.dreambooth_flux import instance_prompt
    from layercraft.world.layout import image_spec, scene
    from layercraft.world.prompts import canvas_prompt
    from layercraft.world.scene import render
    from layercraft.world.splits import scene_range

    lo, _ = scene_range("test")
    pairs = []
    for k in range(n):
        s = render(image_spec(scene(lo + 100 + k, n_people=1), 0, size, size))
        caption = canvas_prompt(s.meta, np.random.default_rng(k))
        pairs.append((caption, instance_prompt(caption)))
    return pairs


def sweep_noise(pipe, prompt_index: int, seed: int, grid: tuple[int, int]) -> torch.Tensor:
    """The packed noise (1, L, C·4) of image (prompt k, seed s): every λ1 (and the inversion bench) sees the same."""
    from layercraft.conditioning import pack

    g = torch.Generator("cpu").manual_seed(1000 * prompt_index + seed)
    return pack(torch.randn(1, pipe.latent_channels, grid[0] * 2, grid[1] * 2, generator=g)[0])[None]


def personalized_pipeline(model: str, lora: Path):
    """The vanilla model `model` as a LayoutRetouchFluxPipeline with the DreamBooth LoRA `lora` loaded."""
    from layercraft.pipelines.loading import load_pipeline
    from layercraft.pipelines.retouch import LayoutRetouchFluxPipeline

    base = load_pipeline(model)
    pipe = LayoutRetouchFluxPipeline(**base.components, max_sequence_length=base.config.max_sequence_length)
    pipe.set_progress_bar_config(disable=True)
    pipe.load_lora_weights(lora)
    return pipe


def box_segmenter(detector):
    """A stand-in for SAM: image → bool mask (H, W) of the most confident person box (empty when none)."""
    def segment(image: Image.Image) -> np.ndarray:
        arr = np.asarray(image.convert("RGB"))
        mask = np.zeros(arr.shape[:2], bool)
        det = detector.detect(arr).of_label(0)
        if len(det):
            x0, y0, x1, y1 = np.round(det.boxes[np.argmax(det.scores)]).astype(int)
            mask[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
        return mask
    return segment


def _summary(found: list[tuple[np.ndarray | None, float | None]]) -> tuple[list, float | None, float | None, float]:
    """Per-image measurements → (centre points or None, spread σ², mean similarity, detection rate)."""
    points = [p for p, _ in found]
    sims = [x for _, x in found if x is not None]
    spread = centre_spread(np.asarray([p for p in points if p is not None]))
    return points, spread, (float(np.mean(sims)) if sims else None), len(sims) / max(len(found), 1)


@torch.no_grad()
def blend_sweep(pipe, prompts: list[tuple[str, str]], blend_steps: list[int], seeds: list[int], steps: int,
                size: int, detector, identity, reference: np.ndarray, true_cfg: float = 1.0,
                image_dir: Path | None = None, retouch_reference: Image.Image | None = None,
                swap_steps: int | None = None, align_reference: bool = False,
                retouch_steps: int | None = None, inversion_refine: int = 0) -> list[SweepRow]:
    """prompts: (class prompt y_p, instance prompt y_r) pairs; every λ1 sees the same noise for each (prompt, seed).
    `retouch_reference` (the subject's reference photo) also retouches every layout image (λ2 = `swap_steps`;
    `align_reference` moves the reference subject into the layout's person box first; `inversion_refine`
    fixed-point iterations per inversion step)."""
    from layercraft.canvas import Layer

    if not blend_steps or blend_steps[0] != 0:
        raise ValueError(f"the sweep must start at λ1 = 0 (the personalized model), got {blend_steps}")
    grid = (size // pipe.stride, size // pipe.stride)
    layers = [] if retouch_reference is None else \
        [Layer(id="reference", image=retouch_reference.convert("RGBA").resize((size, size)))]
    segmenter = box_segmenter(detector)
    found: dict[int, tuple[Found, Found | None]] = {}
    shared: dict[int, torch.Tensor] = {}  # per prompt: the reference's inversion, the same at every seed and λ1
    for lam in blend_steps:
        images, retouched = [], []
        for k, (y_p, y_r) in enumerate(prompts):
            canvas = Canvas(width=size, height=size, prompt=y_r, layers=layers)
            if retouch_reference is not None and not align_reference and k not in shared:
                shared[k] = pipe.invert_reference(y_r, canvas, "reference", retouch_steps or steps,
                                                  inversion_refine=inversion_refine, canvas_tokens=False)
            for seed in seeds:
                noise = sweep_noise(pipe, k, seed, grid)
                if retouch_reference is None:
                    z = pipe.step_blended(y_p, y_r, canvas, noise, steps, lam, true_cfg_scale=true_cfg)
                    images.append(np.asarray(pipe.decode(z, grid, "pil")[0].convert("RGB")))
                    continue
                # the layout stage inside is the same step_blended call on the prompt alone (canvas_tokens=False)
                out, layout = pipe(y_r, canvas, class_prompt=y_p, num_inference_steps=steps, true_cfg_scale=true_cfg,
                                   blend_steps=lam, swap_steps=swap_steps, latents=noise, segmenter=segmenter,
                                   canvas_tokens=False, align_reference=align_reference, retouch_steps=retouch_steps,
                                   inversion_refine=inversion_refine, reference_noise=shared.get(k),
                                   return_layout=True).images
                images.append(np.asarray(layout[0].convert("RGB")))
                retouched.append(np.asarray(out[0].convert("RGB")))
        layout_found = measure_each(images, detector, identity, reference)
        retouched_found = measure_each(retouched, detector, identity, reference) if retouched else None
        found[lam] = (layout_found, retouched_found)
        if image_dir is not None:
            image_dir.mkdir(parents=True, exist_ok=True)
            strip = np.concatenate(images[: len(seeds) * 2], 1)
            if retouched:
                strip = np.concatenate([strip, np.concatenate(retouched[: len(seeds) * 2], 1)], 0)
            Image.fromarray(strip).save(image_dir / f"lambda{lam:02d}.png")
    return sweep_rows(found)


def sweep_rows(found: dict[int, tuple[Found, Found | None]]) -> list[SweepRow]:
    """Per-image measurements of each λ1 (layout images, retouched images or None) → one row per λ1, with the paired
    bootstrap intervals against λ1 = 0's layout images (image k of every λ1 shares its (prompt, seed)) and, for the
    retouched images, also against λ1 = 0's retouched images."""
    if 0 not in found:
        raise ValueError(f"the sweep needs λ1 = 0 (the personalized model) as its baseline, got {sorted(found)}")
    base_points = [p for p, _ in found[0][0]]
    base_retouched = None if found[0][1] is None else [p for p, _ in found[0][1]]
    rows = []
    for lam in sorted(found):
        layout_found, retouched_found = found[lam]
        points, spread, sim, detected = _summary(layout_found)
        ci = spread_delta_interval(base_points, points) if lam else None
        row = SweepRow(lam, spread, sim, detected, len(layout_found), *(ci if ci is not None else (None, None)),
                       per_image=_serial(layout_found))
        if retouched_found is not None:
            r_points, row.retouched_spread, row.retouched_sim, row.retouched_detected = _summary(retouched_found)
            r_ci = spread_delta_interval(base_points, r_points)
            row.retouched_delta_lo, row.retouched_delta_hi = r_ci if r_ci is not None else (None, None)
            s_ci = spread_delta_interval(base_retouched, r_points) if lam and base_retouched is not None else None
            row.retouched_step_delta_lo, row.retouched_step_delta_hi = s_ci if s_ci is not None else (None, None)
            row.retouched_per_image = _serial(retouched_found)
        rows.append(row)
    return rows


def _serial(found: Found) -> list:
    return [None if p is None else [float(p[0]), float(p[1]), float(s)] for p, s in found]


def _found(serial: list) -> Found:
    return [(None, None) if x is None else (np.asarray(x[:2], float), float(x[2])) for x in serial]


def pool_sweeps(sweeps: list[dict]) -> list[SweepRow]:
    """Replicates (sweep.json contents with per-image measurements) → the rows of their union, at the λ1 every
    replicate ran; a replicate without retouched images drops the retouched rows."""
    if not sweeps:
        raise ValueError("nothing to pool")
    by = [{r["blend_steps"]: r for r in d["rows"]} for d in sweeps]
    for d, b in zip(sweeps, by, strict=True):
        if any(not r.get("per_image") for r in b.values()):
            raise ValueError(f"a sweep without per-image measurements cannot be pooled: {d.get('meta', {})}")
    lams = sorted(set.intersection(*(set(b) for b in by)))
    retouch = all(b[lam].get("retouched_per_image") is not None for b in by for lam in lams)
    return sweep_rows({lam: (sum((_found(b[lam]["per_image"]) for b in by), []),
                             sum((_found(b[lam]["retouched_per_image"]) for b in by), []) if retouch else None)
                       for lam in lams})


def identity_carried(rows: list[SweepRow]) -> bool:
    """Does the personalized model (λ1 = 0) carry the subject better than the vanilla one (largest λ1)?"""
    base = next((r for r in rows if r.blend_steps == 0), None)
    vanilla = max(rows, key=lambda r: r.blend_steps)
    return (base is not None and base.sim is not None and vanilla.sim is not None and vanilla is not base
            and base.sim >= vanilla.sim + MIN_IDENTITY_GAIN)


def holds(rows: list[SweepRow], retouched: bool = False) -> list[int]:
    """The λ1 > 0 where spread rises over λ1 = 0 (`_spread_rises`) and similarity stays within `SIM_TOLERANCE` of
    it; none when the personalized model does not carry the identity (`identity_carried`). `retouched` judges the
    retouched images of each λ1 against the same λ1 = 0 baseline (the personalized model alone, no retouch)."""
    base = next((r for r in rows if r.blend_steps == 0), None)
    if base is None or base.spread is None or base.sim is None or not identity_carried(rows):
        return []
    out = []
    for r in rows:
        spread, sim, lo = ((r.retouched_spread, r.retouched_sim, r.retouched_delta_lo) if retouched
                           else (r.spread, r.sim, r.spread_delta_lo))
        if r.blend_steps > 0 and spread is not None and sim is not None and _spread_rises(spread, lo, base.spread) \
                and sim >= (1 - SIM_TOLERANCE) * base.sim:
            out.append(r.blend_steps)
    return out


def _spread_rises(spread: float, delta_lo: float | None, base_spread: float) -> bool:
    """By the bootstrap interval when the sweep measured one, else by the point values."""
    if delta_lo is not None:
        return delta_lo > 0
    return spread > base_spread


def write_sweep(rows: list[SweepRow], out: Path, meta: dict) -> None:
    """sweep.csv, sweep.json (rows, meta, the λ1 where the claim holds) and sweep.png (spread and sim vs λ1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    with (out / "sweep.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[x.name for x in fields(SweepRow) if x.name not in PER_IMAGE])
        w.writeheader()
        w.writerows({k: v for k, v in asdict(r).items() if k not in PER_IMAGE} for r in rows)
    with_retouch = any(r.retouched_sim is not None for r in rows)
    summary = {"meta": meta, "rows": [asdict(r) for r in rows], "identity_carried": identity_carried(rows),
               "claim_holds_at": holds(rows)}
    if with_retouch:
        summary["claim_holds_at_retouched"] = holds(rows, retouched=True)
    (out / "sweep.json").write_text(json.dumps(summary, indent=2))
    lam = [r.blend_steps for r in rows]

    def series(name: str) -> list[float]:
        return [getattr(r, name) if getattr(r, name) is not None else np.nan for r in rows]

    fig, ax = plt.subplots(figsize=(5.6, 3.9))
    ax.plot(lam, series("spread"), "o-", color="C0", label="σ², step blending")
    ax.set_xlabel(f"λ1 (vanilla steps of {meta.get('steps', 0)})")
    ax.set_ylabel("centre-point spread σ²", color="C0")
    ax2 = ax.twinx()
    ax2.plot(lam, series("sim"), "s--", color="C1", label="sim, step blending")
    if with_retouch:
        ax.plot(lam, series("retouched_spread"), "o:", color="C2", label="σ², + retouch")
        ax2.plot(lam, series("retouched_sim"), "s:", color="C3", label="sim, + retouch")
    base = next((r for r in rows if r.blend_steps == 0 and r.sim is not None), None)
    if base is not None:
        ax2.axhline((1 - SIM_TOLERANCE) * base.sim, color="0.5", lw=0.8, ls="--", label="sim floor (0.9 × λ1 = 0)")
    ax2.set_ylabel("identity similarity", color="C1")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper center", ncol=2,
              bbox_to_anchor=(0.5, -0.2), frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title("Layout-and-Retouch step blending: λ1 sweep")
    fig.tight_layout()
    fig.savefig(out / "sweep.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":  # python -m experiments.blend_sweep sweep|pool …
    from experiments.blend_sweep_cli import app

    app()
