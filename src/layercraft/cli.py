"""The `layercraft` command line: wiring only; the work lives in the packages."""

from __future__ import annotations

from pathlib import Path

import typer
from PIL import Image
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .app.cli import app as studio_app
from .canvas import composite, load_project, preview, rasterize, validate_canvas
from .canvas.images import save_image_atomic
from .canvas.limits import LIMITS, one_line
from .conditioning.names import DEFAULT_SCHEME, SCHEME_NAMES
from .data.cli import app as data_app
from .pipelines.cli import app as generate_app
from .refusals import LazyGroup, RefusalGroup
from .vision.cli import app as vision_app
from .vision.cli import from_photos_cmd
from .world.cli import app as world_app

# groups imported only when run (their help is repeated here; a test keeps the two equal)
LAZY_GROUPS = {
    "eval": ("layercraft.eval.cli:app",
             "Evaluate: benchmark suites → images, per-case records, summary CSV, HTML report."),
}


class LayercraftGroup(RefusalGroup):
    """The top-level group: the light sub-commands as usual, `LAZY_GROUPS` loaded on first use."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, (target, help_text) in LAZY_GROUPS.items():
            self.add_command(LazyGroup(name, target, help_text))


app = typer.Typer(help="layercraft: layered-canvas, multi-subject personalized image generation.",
                  no_args_is_help=True, pretty_exceptions_enable=False, cls=LayercraftGroup)
canvas_app = typer.Typer(help="Inspect, validate and render layered-canvas project files.", no_args_is_help=True,
                         cls=RefusalGroup)
app.add_typer(canvas_app, name="canvas")
app.add_typer(world_app, name="world")
app.add_typer(studio_app)
app.add_typer(generate_app)
app.add_typer(vision_app, name="vision")
app.add_typer(data_app, name="data")
canvas_app.command("from-photos")(from_photos_cmd)
console = Console(soft_wrap=True)

SCHEMES = SCHEME_NAMES


def _load(path: Path):
    """The project, or a refusal (one line on stderr, exit code 2) naming what is wrong with it."""
    return load_project(path)


def _text(value: str) -> str:
    """Text from a project, safe for any terminal (control characters escaped)."""
    return one_line(value)


@canvas_app.command("info")
def canvas_info(
    project: Path = typer.Argument(..., help="Project file (.lcp zip)."),
    scheme: str = typer.Option(DEFAULT_SCHEME, help=f"Position scheme for token counts: {', '.join(SCHEMES)}."),
    token_px: int = typer.Option(8, min=1, max=LIMITS.max_side,
                                 help="Pixels per condition token side (VAE factor × patch)."),
) -> None:
    """Show the canvas, its layers (z-order, lock, category, box) and condition tokens per layer."""
    if scheme not in SCHEMES:
        raise typer.BadParameter(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}", param_hint="--scheme")
    c = _load(project)
    console.print(f"[bold]{_text(str(project))}[/bold]  {c.width}×{c.height}  format v{c.version}", markup=False)
    console.print(f"prompt: {_text(repr(c.prompt))}", markup=False)
    grid = (c.height // token_px, c.width // token_px)
    tokens = None
    if min(grid) == 0:
        console.print(f"no token counts: the {c.width}×{c.height} canvas is smaller than one {token_px}-pixel token",
                      markup=False)
    else:
        from .conditioning import token_report  # torch: only when tokens are counted

        try:
            tokens = token_report(c, scheme, grid)
        except (ValueError, ZeroDivisionError) as err:
            console.print(f"no token counts: {_text(str(err))}", markup=False)
    table = Table("z", "id", "name", "category", "locked", "visible", "box", "tokens", "descriptor")
    rasters = {r.id: r for r in rasterize(c)}
    for z, layer in enumerate(c.all_layers()):
        r = rasters.get(layer.id)
        box = r.box if r is not None else None
        n = tokens.per_layer.get(layer.id, "") if tokens else ""
        table.add_row(str(z), layer.id, Text(_text(layer.name)), layer.category.value, "🔒" if layer.locked else "",
                      "yes" if layer.visible else "no", str(box) if layer.placed else "reference", str(n),
                      Text(_text(layer.descriptor or "")))
    console.print(table)
    if tokens:
        console.print(f"{scheme}: {tokens.total} condition tokens (unpruned {tokens.unpruned}), "
                      f"{tokens.noisy} noisy tokens on a {grid[1]}×{grid[0]} grid")


@canvas_app.command("validate")
def canvas_validate(
    project: Path = typer.Argument(..., help="Project file (.lcp zip)."),
    stride: int = typer.Option(LIMITS.stride, min=1, max=LIMITS.max_side,
                               help="Model stride the canvas size must divide by."),
    max_layers: int = typer.Option(LIMITS.max_layers, min=0, max=LIMITS.max_layers,
                                   help="Largest number of layers accepted."),
) -> None:
    """Check a project file; exit 2 with every problem named on one line, else print OK."""
    c = _load(project)
    validate_canvas(c, stride=stride, max_layers=max_layers)
    console.print(f"[green]OK[/green] {_text(str(project))}: {len(c.layers)} layers, {c.width}×{c.height}")


@canvas_app.command("render")
def canvas_render(
    project: Path = typer.Argument(..., help="Project file (.lcp zip)."),
    out: Path = typer.Option(Path("out/canvas"), help="Folder for collage.png, preview.png and layers/."),
    layers: bool = typer.Option(False, help="Also write each rasterized layer as layers/<id>.png."),
    stride: int = typer.Option(1, min=1, max=LIMITS.max_side,
                               help="Also require the canvas size to divide by this model stride."),
) -> None:
    """Write the collage (layers composited by z-order) and an annotated preview.

    The canvas is validated first; an invalid one writes nothing."""
    c = _load(project)
    validate_canvas(c, stride=stride)
    images = {"collage.png": composite(c), "preview.png": preview(c)}
    if layers:
        images.update({f"layers/{r.id}.png": Image.fromarray(r.rgba, "RGBA") for r in rasterize(c)})
    for name, img in images.items():
        save_image_atomic(img, out / name)
    console.print(f"wrote {out / 'collage.png'} and {out / 'preview.png'}")


@app.command()
def train(
    config: Path = typer.Argument(..., help="Training config (YAML); see layercraft.training.TrainConfig."),
    overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. max_steps=100"),
) -> None:
    """Train one stage; resumes from the newest checkpoint in its output folder.

    Several processes: `accelerate launch --multi_gpu --num_processes N -m layercraft.training CONFIG`."""
    from .training.__main__ import main as train_main

    raise typer.Exit(train_main([str(config), *(overrides or [])]))


@app.command()
def demo(
    out: Path = typer.Option(Path("out/demo"), help="Output folder."),
    steps: int = typer.Option(None, min=1, help="Sampling steps (default: the model card's)."),
    seed: int = typer.Option(0, help="Noise seed."),
    cfg: float = typer.Option(None, help="True classifier-free guidance scale (1: off; default: the card's)."),
    canvas_cfg: float = typer.Option(None, min=1.0, help="Guidance towards the canvas (1: off; default: the card's)."),
    model: str = typer.Option("default-distilled",
                              help="'default-distilled' (the embedded model's one-pass student), 'default' (the "
                                   "embedded model: three passes per step), a registry name or a folder."),
    lock_blend: float = typer.Option(None, min=0.0, max=1.0,
                                     help="Fraction of the steps that pull the locked layer back to the canvas "
                                          "(0: the model alone; default: the card's)."),
    device: str = typer.Option("auto", help="torch device: auto (the accelerator if any, else cpu), cpu, cuda, mps."),
    dtype: str = typer.Option("auto", help="auto (bf16 on accelerators and on CPUs that compute bf16 natively, else "
                                           "fp32), float32, bfloat16, float16."),
) -> None:
    """The main job: the bundled 4-person canvas `four-friends` (one locked layer) → one image.

    Writes OUT/output.png, OUT/sheet.png (canvas collage | output) and OUT/preview.png (lock state, z-order)."""
    import time

    import numpy as np
    import torch

    from .examples import example_path
    from .pipelines.loading import load_pipeline, place_pipeline, recommended_settings, resolve_placement, size_warning

    try:
        _, torch_dtype = resolve_placement(device, dtype)
    except ValueError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
    card = {"num_inference_steps": 10, "true_cfg_scale": 3.0, "canvas_cfg_scale": 2.0, "lock_blend": 0.75,
            **recommended_settings(model)}
    steps = card["num_inference_steps"] if steps is None else steps
    cfg = card["true_cfg_scale"] if cfg is None else cfg
    canvas_cfg = card["canvas_cfg_scale"] if canvas_cfg is None else canvas_cfg
    lock_blend = card["lock_blend"] if lock_blend is None else lock_blend
    path = example_path()
    canvas_validate(path, stride=16, max_layers=32)
    canvas = load_project(path)
    warning = size_warning(model, canvas.width, canvas.height)
    if warning:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    t0 = time.perf_counter()
    pipe = place_pipeline(load_pipeline(model, dtype=torch_dtype), device, dtype)
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    image = pipe(canvas.prompt, canvas, num_inference_steps=steps, true_cfg_scale=cfg, canvas_cfg_scale=canvas_cfg,
                 negative_prompt="" if cfg > 1 else None,  # true CFG against the empty prompt
                 lock_blend=lock_blend, generator=torch.Generator().manual_seed(seed)).images[0].convert("RGB")
    took = time.perf_counter() - t0
    collage = composite(canvas).convert("RGB").resize(image.size)
    sheet = Image.fromarray(np.concatenate([np.asarray(collage), np.asarray(image)], axis=1))
    for name, img in (("output.png", image), ("sheet.png", sheet), ("preview.png", preview(canvas))):
        save_image_atomic(img, out / name)
    console.print(f"prompt: {canvas.prompt!r}")
    console.print(f"model {model!r} loaded in {loaded:.1f} s; {image.width}×{image.height} image in {took:.2f} s "
                  f"({steps} steps{' × 1 pass (distilled guidance)' if pipe.guidance_distilled else ''}, "
                  f"true CFG {cfg:g}, canvas CFG {canvas_cfg:g}, lock blend {lock_blend:g}, "
                  f"{torch.get_num_threads()} threads, {str(torch_dtype).removeprefix('torch.')} on {pipe.device})")
    console.print(f"wrote {out / 'output.png'}, {out / 'sheet.png'} (collage | output), {out / 'preview.png'}")


if __name__ == "__main__":
    app()
