"""`layercraft generate`: a project file + prompt → image. A typer sub-app mounted by `layercraft.cli`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..canvas import load_project
from ..conditioning.schemes import DEFAULT_SCHEME, SCHEME_NAMES

app = typer.Typer(help="Generate images from layered canvases.")


@app.command()
def generate(
    project: Annotated[Path, typer.Argument(exists=True, help="project file (.zip) holding the canvas")],
    out: Annotated[Path, typer.Option(help="where to write the image")] = Path("out.png"),
    prompt: Annotated[str | None, typer.Option(help="text prompt (default: the canvas prompt)")] = None,
    model: Annotated[str, typer.Option(help="'default' (the embedded model), a registry name, or a pipeline / "
                                           "Kontext directory")] = "default",
    scheme: Annotated[str, typer.Option(help=f"one of {', '.join(SCHEME_NAMES)}")] = DEFAULT_SCHEME,
    steps: Annotated[int | None, typer.Option(min=1, help="sampling steps [the model's measured setting, else "
                                                          "20]")] = None,
    guidance: Annotated[float, typer.Option(help="distilled guidance (FLUX dev / Kontext)")] = 3.5,
    true_cfg: Annotated[float | None, typer.Option(help="true CFG scale (> 1 runs a negative pass) [the model's "
                                                        "measured setting, else 1]")] = None,
    canvas_cfg: Annotated[float | None, typer.Option(min=1.0, help="guidance towards the canvas (> 1 runs a pass "
                                                                   "with an empty canvas) [measured setting, else "
                                                                   "1]")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    lora: Annotated[Path | None, typer.Option(help="a LoRA directory or .safetensors file to load")] = None,
    cache: Annotated[bool, typer.Option(help="condition KV cache (models trained with cacheable conditions)")] = False,
    prune: Annotated[bool, typer.Option(help="drop transparent condition tokens")] = True,
    device: Annotated[str, typer.Option(help="torch device: auto (the accelerator if any, else cpu), cpu, cuda, "
                                             "cuda:N, mps")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto (bf16 on accelerators and bf16-native CPUs, else fp32), float32, "
                                            "bfloat16, float16")] = "auto",
    offload: Annotated[bool, typer.Option(help="model CPU offload onto the accelerator (low memory)")] = False,
    lock_blend: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="fraction of the steps that pull locked "
                                                     "layers back to the canvas (0: the model alone) [measured "
                                                     "setting, else 0]")] = None,
    upscale: Annotated[int, typer.Option(help="1: off; 4: upscale the result ×4 with a bundled Real-ESRGAN model "
                                              "(tiled for large images)")] = 1,
    upscaler: Annotated[str, typer.Option(help="the ×4 model: anime (flat-colour art, like the embedded world's) "
                                               "or photo")] = "anime",
) -> None:
    """Options left out take the model's measured settings (the embedded default's card), else plain defaults."""
    import torch

    from .loading import load_pipeline, place_pipeline, recommended_settings, resolve_placement, size_warning

    rec = {"num_inference_steps": 20, "true_cfg_scale": 1.0, "canvas_cfg_scale": 1.0, "lock_blend": 0.0,
           **recommended_settings(model)}
    given = {"num_inference_steps": steps, "true_cfg_scale": true_cfg, "canvas_cfg_scale": canvas_cfg,
             "lock_blend": lock_blend}
    sampling = {k: rec[k] if v is None else v for k, v in given.items()}

    try:
        target, torch_dtype = resolve_placement(device, dtype)
        if offload and target == "cpu":
            raise ValueError("--offload needs an accelerator device (model CPU offload onto it)")
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    if upscale not in (1, 4):
        typer.echo(f"error: --upscale {upscale}: the bundled upscalers are ×4 (1: off, 4)", err=True)
        raise typer.Exit(2)
    canvas = load_project(project)
    warning = size_warning(model, canvas.width, canvas.height)
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    up = _upscaler(upscaler, device, dtype, canvas) if upscale == 4 else None  # before generating: fail fast
    pipe = place_pipeline(load_pipeline(model, dtype=torch_dtype), device, dtype, offload)
    if lora is not None:
        pipe.load_lora_weights(str(lora))
    negative = "" if sampling["true_cfg_scale"] > 1 else None  # true CFG against the empty prompt
    image = pipe(prompt or canvas.prompt, canvas, scheme=scheme, guidance_scale=guidance, negative_prompt=negative,
                 generator=torch.Generator().manual_seed(seed), cache=cache, prune=prune, **sampling).images[0]
    if up is not None:
        image = up.upscale(image)
    _save_atomic(image, out)
    done = ", ".join(f"{k} {v:g}" for k, v in sampling.items())
    typer.echo(f"wrote {out} ({image.width}×{image.height}; {done}" + (f"; upscaled ×4, {upscaler})" if up else ")"))


def _save_atomic(image, out: Path) -> None:
    """image.save in the format the suffix names, via a temp file and a rename (never half a file at `out`)."""
    import os

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    try:
        image.save(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _upscaler(kind: str, device: str, dtype: str, canvas):
    """The bundled upscaler `kind`, or a one-line error and exit 2 (unknown kind, models not installed, a canvas
    too large for it)."""
    from ..upscale import UpscaleError, Upscaler
    from ..vision.assets import ModelMissingError

    try:
        up = Upscaler.from_bundled(kind, device=device, dtype=dtype)
        up.check(canvas.width, canvas.height)
        return up
    except (UpscaleError, ModelMissingError) as err:
        typer.echo(f"error: --upscaler {kind}: {err}", err=True)
        raise typer.Exit(2) from None
