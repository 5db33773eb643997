"""`layercraft generate`: a project file + prompt → image. A typer sub-app; the lead mounts it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..canvas import load_project
from .schemes import SCHEMES

app = typer.Typer(help="Generate images from layered canvases.")


@app.command()
def generate(
    project: Annotated[Path, typer.Argument(exists=True, help="project file (.zip) holding the canvas")],
    out: Annotated[Path, typer.Option(help="where to write the image")] = Path("out.png"),
    prompt: Annotated[str | None, typer.Option(help="text prompt (default: the canvas prompt)")] = None,
    model: Annotated[str, typer.Option(help="'default' (the embedded model), a registry name, or a pipeline / "
                                           "Kontext directory")] = "default",
    scheme: Annotated[str, typer.Option(help=f"one of {', '.join(SCHEMES)}")] = "layercomposer",
    steps: Annotated[int, typer.Option(min=1)] = 20,
    guidance: Annotated[float, typer.Option(help="distilled guidance (FLUX dev / Kontext)")] = 3.5,
    true_cfg: Annotated[float, typer.Option(help="true CFG scale (> 1 runs a negative pass)")] = 1.0,
    canvas_cfg: Annotated[float, typer.Option(min=1.0, help="guidance towards the canvas (> 1 runs a pass with an "
                                                            "empty canvas)")] = 1.0,
    seed: Annotated[int, typer.Option()] = 0,
    lora: Annotated[Path | None, typer.Option(help="a LoRA directory or .safetensors file to load")] = None,
    cache: Annotated[bool, typer.Option(help="condition KV cache (models trained with cacheable conditions)")] = False,
    prune: Annotated[bool, typer.Option(help="drop transparent condition tokens")] = True,
    lock_blend: Annotated[float, typer.Option(min=0.0, max=1.0, help="fraction of the steps that pull locked layers "
                                                                      "back to the canvas (0: the model alone)")] = 0.0,
) -> None:
    import torch

    from .loading import load_pipeline

    canvas = load_project(project)
    pipe = load_pipeline(model)
    if lora is not None:
        pipe.load_lora_weights(str(lora))
    image = pipe(prompt or canvas.prompt, canvas, scheme=scheme, num_inference_steps=steps, guidance_scale=guidance,
                 true_cfg_scale=true_cfg, canvas_cfg_scale=canvas_cfg, generator=torch.Generator().manual_seed(seed),
                 cache=cache, prune=prune, lock_blend=lock_blend).images[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    typer.echo(f"wrote {out}")
