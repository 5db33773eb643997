"""`layercraft generate`: a project file + prompt → image. A typer sub-app mounted by `layercraft.cli`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..canvas import load_project, validate_canvas
from ..canvas.errors import OptionError
from ..canvas.limits import LIMITS, check_float, check_text
from ..conditioning.names import DEFAULT_SCHEME, SCHEME_NAMES
from ..refusals import RefusalCommand, RefusalGroup

app = typer.Typer(help="Generate images from layered canvases.", cls=RefusalGroup)


def _output_format(out: Path) -> str:
    """The image format PIL writes for `out`'s extension, checked before any work is done."""
    from PIL import Image

    fmt = Image.registered_extensions().get(out.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise typer.BadParameter(f"cannot write images with extension {out.suffix or '(none)'!r}; use .png or "
                                 ".jpg", param_hint="--out")
    return fmt


@app.command(cls=RefusalCommand)
def generate(
    project: Annotated[Path, typer.Argument(exists=True, help="project file (.zip) holding the canvas")],
    out: Annotated[Path, typer.Option(help="where to write the image")] = Path("out.png"),
    prompt: Annotated[str | None, typer.Option(help="text prompt (default: the canvas prompt)")] = None,
    model: Annotated[str, typer.Option(help="'default' (the embedded model), a registry name, or a pipeline / "
                                           "Kontext directory")] = "default",
    scheme: Annotated[str, typer.Option(help=f"one of {', '.join(SCHEME_NAMES)}")] = DEFAULT_SCHEME,
    steps: Annotated[int | None, typer.Option(min=1, max=LIMITS.max_steps, help="sampling steps [the model's "
                                                                                "measured setting, else 20]")] = None,
    guidance: Annotated[float, typer.Option(help="distilled guidance (FLUX dev / Kontext)")] = 3.5,
    true_cfg: Annotated[float | None, typer.Option(help="true CFG scale (> 1 runs a negative pass) [the model's "
                                                        "measured setting, else 1]")] = None,
    canvas_cfg: Annotated[float | None, typer.Option(min=1.0, help="guidance towards the canvas (> 1 runs a pass "
                                                                   "with an empty canvas) [measured setting, else "
                                                                   "1]")] = None,
    seed: Annotated[int, typer.Option(min=0, max=LIMITS.max_seed)] = 0,
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
    if scheme not in SCHEME_NAMES:
        raise typer.BadParameter(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEME_NAMES)}",
                                 param_hint="--scheme")
    fmt = _output_format(out)
    check_float("--guidance", guidance, 0.0, LIMITS.max_guidance)
    for name, value, low, high in (("--true-cfg", true_cfg, 1.0, LIMITS.max_guidance),
                                   ("--canvas-cfg", canvas_cfg, 1.0, LIMITS.max_guidance),
                                   ("--lock-blend", lock_blend, 0.0, 1.0)):
        if value is not None:
            check_float(name, value, low, high)
    if prompt is not None:
        try:
            check_text(prompt, "--prompt", LIMITS.max_prompt_chars)
        except ValueError as err:
            raise OptionError(str(err)) from None
    from .loading import load_pipeline, place_pipeline, recommended_settings, resolve_placement, size_warning

    try:
        target, torch_dtype = resolve_placement(device, dtype)
    except ValueError as err:
        raise OptionError(str(err)) from None
    if offload and target == "cpu":
        raise OptionError("--offload needs an accelerator device (model CPU offload onto it)")
    canvas = load_project(project)  # a bad project is refused before the model loads
    validate_canvas(canvas, stride=LIMITS.stride)

    import torch

    rec = {"num_inference_steps": 20, "true_cfg_scale": 1.0, "canvas_cfg_scale": 1.0, "lock_blend": 0.0,
           **recommended_settings(model)}
    given = {"num_inference_steps": steps, "true_cfg_scale": true_cfg, "canvas_cfg_scale": canvas_cfg,
             "lock_blend": lock_blend}
    sampling = {k: rec[k] if v is None else v for k, v in given.items()}
    # the reference grid a model was trained with (its card's): One-for-All references at that many tokens
    extra = {"ref_grid": int(rec["ref_grid"])} if rec.get("ref_grid") is not None else {}

    if upscale not in (1, 4):
        raise OptionError(f"--upscale {upscale}: the bundled upscalers are ×4 (1: off, 4)")
    warning = size_warning(model, canvas.width, canvas.height)
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    up = _upscaler(upscaler, device, dtype, canvas) if upscale == 4 else None  # before generating: fail fast
    pipe = place_pipeline(load_pipeline(model, dtype=torch_dtype), device, dtype, offload)
    if lora is not None:
        pipe.load_lora_weights(str(lora))
    negative = "" if sampling["true_cfg_scale"] > 1 else None  # true CFG against the empty prompt
    image = pipe(prompt or canvas.prompt, canvas, scheme=scheme, guidance_scale=guidance, negative_prompt=negative,
                 generator=torch.Generator().manual_seed(seed), cache=cache, prune=prune, **sampling, **extra).images[0]
    if up is not None:
        image = up.upscale(image)
    _save_atomic(image.convert("RGB") if fmt == "JPEG" else image, out, fmt)
    done = ", ".join(f"{k} {v:g}" for k, v in sampling.items())
    typer.echo(f"wrote {out} ({image.width}×{image.height}; {done}" + (f"; upscaled ×4, {upscaler})" if up else ")"))


def _save_atomic(image, out: Path, fmt: str) -> None:
    """image.save in format `fmt` via a temp file and a rename (never half a file at `out`)."""
    import os

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    try:
        image.save(tmp, format=fmt)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _upscaler(kind: str, device: str, dtype: str, canvas):
    """The bundled upscaler `kind`, or a one-line refusal (unknown kind, models not installed, a canvas too large
    for it)."""
    from ..upscale import UpscaleError, Upscaler
    from ..vision.assets import ModelMissingError

    try:
        up = Upscaler.from_bundled(kind, device=device, dtype=dtype)
        up.check(canvas.width, canvas.height)
        return up
    except (UpscaleError, ModelMissingError) as err:
        raise OptionError(f"--upscaler {kind}: {err}") from None
