"""Methods: what turns a case into an image — the model under test and the reference rows.

Reference rows of every table:
- `ground_truth`  — the target image itself (upper bound on identity, layout and attributes);
- `collage`       — the canvas layers pasted over the background (copy-paste bound: CP = +1);
- `base_t2i`      — the same pipeline and prompt with an empty canvas (floor: no canvas control);
- `kontext_collage` — the collage as one FLUX.1 Kontext-style reference image.
On request (not a row of every table): `autoencoder` — the target through the model's VAE, encoded and decoded,
the latent space's ceiling (what no denoiser on that VAE can exceed).
Model rows are a scheme plus pipeline switches; ablation rows differ from them in one switch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from ..canvas import Canvas, composite
from ..conditioning.names import DEFAULT_SCHEME
from ..conditioning.schemes import ANYPHOTO, KONTEXT_COLLAGE, LAYERCOMPOSER, ONE_FOR_ALL
from ..denoise.switches import Switches
from .cases import Case

LC, AP, OFA = LAYERCOMPOSER.name, ANYPHOTO.name, ONE_FOR_ALL.name

Generate = Callable[[Case], Image.Image]  # case → image (the case fixes the seed)


@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # "ground_truth" | "collage" | "base_t2i" | "pipeline"
    scheme: str = DEFAULT_SCHEME
    switches: Switches = field(default_factory=Switches)  # the paper mechanisms (prune, isolation, modulation, …)
    sampling: dict = field(default_factory=dict)  # other pipeline call options (lock_blend, canvas_cfg_scale)
    unlock_all: bool = False  # drop every lock flag (LayerComposer locked-vs-unlocked ablation)
    regulation: bool = False  # LCP box-constrained attention regulation (eq. 5-8) at inference
    lcp: bool = False  # LCP adapter (static / grounding attention) on the text-only path; needs `lcp_adapter`
    category_refs: bool = False  # One-for-All input: each person as unplaced category references (world cases)


LOCK_BLENDS = (0.25, 0.5, 0.75, 1.0)
CANVAS_CFGS = (1.5, 2.0, 3.0)
REF_GRIDS = (4, 8)
METHODS = {m.name: m for m in [
    Method("ground_truth", "ground_truth"),
    Method("collage", "collage"),
    Method("base_t2i", "base_t2i"),
    Method("autoencoder", "autoencoder"),
    Method(KONTEXT_COLLAGE.name, "pipeline", KONTEXT_COLLAGE.name),
    Method(LC, "pipeline", LC),
    Method(f"{LC}-unpruned", "pipeline", LC, Switches(prune=False)),
    Method(f"{LC}-unlocked", "pipeline", LC, unlock_all=True),
    Method(AP, "pipeline", AP, Switches(isolation=True)),
    Method(f"{AP}-all-visible", "pipeline", AP, Switches(isolation=False)),
    Method(f"{AP}-modulation", "pipeline", AP, Switches(isolation=True, modulation=True)),
    Method(OFA, "pipeline", OFA, category_refs=True),
    Method(f"{OFA}-plain", "pipeline", OFA, Switches(ccpa=False, dam=False), category_refs=True),
    Method(f"{OFA}-ccpa-dam", "pipeline", OFA, Switches(ccpa=True, dam=True), category_refs=True),
    # smaller reference grids (pipeline ref_grid): fewer condition tokens per unplaced reference
    *[Method(f"{OFA}-ref-{r}", "pipeline", OFA, Switches(ref_grid=r), category_refs=True) for r in REF_GRIDS],
    Method(f"{LC}-regulation", "pipeline", LC, regulation=True),
    Method("lcp", "pipeline", LC, regulation=True, lcp=True),
    Method("lcp-no-regulation", "pipeline", LC, lcp=True),
    # locked-layer anchoring at inference (LayeredCanvasPipeline lock_blend), a sweep over the anchored fraction
    *[Method(f"{LC}-lock-blend-{f}", "pipeline", LC, sampling={"lock_blend": f}) for f in LOCK_BLENDS],
    # guidance towards the canvas (LayeredCanvasPipeline canvas_cfg_scale: a pass with an empty canvas)
    *[Method(f"{LC}-canvas-cfg-{s}", "pipeline", LC, sampling={"canvas_cfg_scale": s})
      for s in CANVAS_CFGS],
    Method(f"{AP}-canvas-cfg-2.0", "pipeline", AP, Switches(isolation=True), {"canvas_cfg_scale": 2.0}),
    Method(f"{OFA}-canvas-cfg-2.0", "pipeline", OFA, sampling={"canvas_cfg_scale": 2.0}, category_refs=True),
    # the demo's settings: canvas guidance 2 and the locked layers held for the first 3/4 of the steps
    Method(f"{LC}-canvas-cfg-2.0-lock-blend-0.75", "pipeline", LC,
           sampling={"canvas_cfg_scale": 2.0, "lock_blend": 0.75}),
]}
REFERENCE_ROWS = ("ground_truth", "collage", "base_t2i", KONTEXT_COLLAGE.name)
DEFAULT_METHOD = LC


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    return METHODS[name]


def canvas_for(method: Method, case: Case) -> Canvas:
    """The canvas a method sees: unchanged, unlocked, or empty (base text-to-image)."""
    if method.kind == "base_t2i":
        return Canvas(width=case.canvas.width, height=case.canvas.height, prompt=case.prompt)
    if method.category_refs:
        return category_reference_canvas(case)
    if method.unlock_all:
        c = case.canvas.model_copy(deep=True)
        for layer in c.all_layers():
            layer.locked = False
        return c
    return case.canvas


def category_reference_canvas(case: Case) -> Canvas:
    """One-for-All's input for a world case: every person's items (face, garments, bag) from the case's source
    image as unplaced category layers (`p{i}-face`, …), as the `one_for_all` recipe trains; no background."""
    from ..world.export import category_canvas
    from ..world.layout import image_spec, scene
    from ..world.scene import render

    w = case.truth.get("world")
    if w is None:
        raise ValueError(f"case {case.key}: category references need a world case (no truth['world'])")
    sc = scene(w["scene"], n_people=w["n_people"], occlusion=w["occlusion"])
    src = render(image_spec(sc, w["source"], *w["size"]))
    index = {int(p["identity"]): j for j, p in enumerate(src.meta["people"])}
    layers = []
    for i, identity in enumerate(w["identities"]):
        for layer in category_canvas(src, index[identity]).layers:
            layers.append(layer.model_copy(update={"id": f"p{i}-{layer.id}"}))
    return Canvas(width=case.canvas.width, height=case.canvas.height, layers=layers, prompt=case.prompt)


def identity_embeds(case: Case, canvas: Canvas, backend) -> dict[str, torch.Tensor]:
    """AnyPhoto modulation input: layer id → the subject reference's identity embedding (D,)."""
    refs, boxes = case.references()
    emb = [backend.embed(im, b[None])[0] for im, b in zip(refs, boxes, strict=True)]
    return {sid: torch.as_tensor(np.asarray(e), dtype=torch.float32)
            for sid, e in zip(case.subjects, emb, strict=True) if any(la.id == sid for la in canvas.layers)}


def make_generate(method: Method, pipe=None, *, steps: int = 28, guidance: float = 3.5, identity=None,
                  seed_offset: int = 0, true_cfg: float = 1.0, lcp_adapter=None) -> Generate:
    """A `Generate` for `method`; pipeline methods need `pipe` (a LayeredCanvasPipeline), LCP methods also
    `lcp_adapter` (an `LcpFluxAdapter` or the folder it was saved to)."""
    if method.kind == "ground_truth":
        def gt(case: Case) -> Image.Image:
            if case.target is None:
                raise ValueError(f"case {case.key} has no ground truth")
            return Image.fromarray(case.target)
        return gt
    if method.kind == "collage":
        return lambda case: composite(case.canvas)
    if pipe is None:
        raise ValueError(f"method {method.name!r} needs a pipeline")
    if method.kind == "autoencoder":
        return lambda case: reconstruct(pipe, case)
    scheme = DEFAULT_SCHEME if method.kind == "base_t2i" else method.scheme
    if method.regulation or method.lcp:
        return _lcp(method, pipe, steps, guidance, seed_offset, true_cfg, lcp_adapter)

    def run(case: Case) -> Image.Image:
        canvas = canvas_for(method, case)
        kw = {**method.switches.as_dict(), **method.sampling}
        if method.switches.modulation:
            if identity is None:
                raise ValueError(f"method {method.name!r} needs an identity backend for modulation")
            kw["identity_embeds"] = [identity_embeds(case, canvas, identity)]
        g = torch.Generator("cpu").manual_seed(case.seed + seed_offset)
        out = pipe(prompt=case.prompt, canvas=canvas, scheme=scheme, num_inference_steps=steps,
                   guidance_scale=guidance, true_cfg_scale=true_cfg, negative_prompt="" if true_cfg > 1 else None,
                   generator=g, output_type="pil", **kw)
        return out.images[0]
    return run


def reconstruct(pipe, case: Case) -> Image.Image:
    """The case's target encoded and decoded by the pipeline's VAE (latent means, no sampling)."""
    from ..models.autoencoder import from_latents, to_latents

    if case.target is None:
        raise ValueError(f"case {case.key} has no ground truth")
    x = pipe.image_processor.preprocess(Image.fromarray(np.asarray(case.target)[..., :3]))  # (1, 3, H, W) in [-1, 1]
    with torch.no_grad():
        y = from_latents(pipe.vae, to_latents(pipe.vae, x.to(pipe.vae.device)))  # (1, 3, H, W)
    return pipe.image_processor.postprocess(y.float(), output_type="pil")[0]


SUBJECT_WORDS = ("people", "person")


def _lcp(method: Method, pipe, steps: int, guidance: float, seed_offset: int, true_cfg: float,
         lcp_adapter=None) -> Generate:
    """The same model through `LcpFluxPipeline`: with box regulation (eq. 5-8) and/or, for `lcp` methods, the
    trained LCP adapter on the text-only path it was trained on (the canvas gives subjects, not tokens).
    World prompts name the subjects only by the count word ("four people"), so every subject's attention map is
    that token's: with one shared token the K position losses (eq. 5) sum to K − (its attention mass inside the
    union of the boxes)."""
    from pathlib import Path

    from ..models.flux_ext.adapter import LcpFluxAdapter
    from ..pipelines.lcp import LcpFluxPipeline

    adapter = None
    if method.lcp:
        if lcp_adapter is None:
            raise ValueError(f"method {method.name!r} needs a trained LCP adapter (eval run --lcp-adapter DIR)")
        adapter = LcpFluxAdapter.from_pretrained(lcp_adapter) if isinstance(lcp_adapter, str | Path) else lcp_adapter
        adapter = adapter.to(pipe._execution_device).eval()
    lcp = LcpFluxPipeline(**pipe.components, max_sequence_length=pipe.config.max_sequence_length,
                          lcp_adapter=adapter)
    lcp.set_progress_bar_config(disable=True)

    def run(case: Case) -> Image.Image:
        canvas = canvas_for(method, case)
        words = next((w for w in SUBJECT_WORDS if re.search(rf"\b{w}\b", case.prompt.lower())), None)
        tokens = {s: words for s in case.subjects} if words else None
        g = torch.Generator("cpu").manual_seed(case.seed + seed_offset)
        out = lcp(case.prompt, canvas, scheme=method.scheme, num_inference_steps=steps, guidance_scale=guidance,
                  true_cfg_scale=true_cfg, generator=g, regulation=method.regulation, subject_tokens=tokens,
                  switches=method.switches, canvas_tokens=not method.lcp)
        return out.images[0]
    return run
