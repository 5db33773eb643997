"""`layercraft generate`: a project file + prompt → image. A typer sub-app; the lead mounts it."""

from __future__ import annotations

from pathlib import Path

import torch
import typer

from ..canvas import load_project
from .layered_canvas import SCHEMES, LayeredCanvasPipeline

app = typer.Typer(help="Generate images from layered canvases.")


@app.command()
def generate(
    project: Path = typer.Argument(..., exists=True, help="project file (.zip) holding the canvas"),
    out: Path = typer.Option(Path("out.png"), help="where to write the image"),
    prompt: str | None = typer.Option(None, help="text prompt (default: the canvas prompt)"),
    model: str = typer.Option("embedded-small", help="a registry name, or a pipeline / Kontext directory"),
    scheme: str = typer.Option("layercomposer", help=f"one of {', '.join(SCHEMES)}"),
    steps: int = typer.Option(20, min=1),
    guidance: float = typer.Option(3.5, help="distilled guidance (FLUX dev / Kontext)"),
    true_cfg: float = typer.Option(1.0, help="true classifier-free guidance scale (> 1 runs a negative pass)"),
    seed: int = typer.Option(0),
    lora: Path | None = typer.Option(None, help="a LoRA directory or .safetensors file to load"),
    cache: bool = typer.Option(False, help="condition KV cache (models trained with cacheable conditions)"),
    prune: bool = typer.Option(True, help="drop transparent condition tokens"),
) -> None:
    canvas = load_project(project)
    if Path(model).is_dir():
        pipe = LayeredCanvasPipeline.from_pretrained(model)
    else:
        pipe = LayeredCanvasPipeline.from_spec(model)
    if lora is not None:
        pipe.load_lora_weights(str(lora))
    image = pipe(prompt or canvas.prompt, canvas, scheme=scheme, num_inference_steps=steps, guidance_scale=guidance,
                 true_cfg_scale=true_cfg, generator=torch.Generator().manual_seed(seed), cache=cache,
                 prune=prune).images[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    typer.echo(f"wrote {out}")
