"""`layercraft world …`: preview contact sheets, export shards, write suites (thin wrappers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The studio world: procedural scenes with exact ground truth.", no_args_is_help=True)


@app.command()
def preview(
    n: Annotated[int, typer.Option(help="number of scenes")] = 16,
    out: Annotated[Path, typer.Option(help="PNG to write")] = Path("docs/world/preview.png"),
    split: Annotated[str, typer.Option(help="split to draw scenes from")] = "val",
    size: Annotated[int, typer.Option(help="render size")] = 256,
    first: Annotated[int, typer.Option(help="offset of the first scene within the split")] = 0,
) -> None:
    """Write a contact sheet: image, annotated masks/boxes/landmarks, layers, prompt."""
    from .contact import contact_sheet
    from .layout import image_spec, scene
    from .scene import render
    from .splits import scene_range

    lo, _ = scene_range(split)
    samples = [render(image_spec(scene(lo + first + k), k % 3, size, size)) for k in range(n)]
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(samples).save(out, optimize=True)
    typer.echo(f"wrote {out}")


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="directory for the shards")],
    n: Annotated[int, typer.Option(help="number of images")] = 1024,
    split: Annotated[str, typer.Option(help="train / val / test")] = "train",
    size: Annotated[int, typer.Option(help="render size")] = 256,
    images_per_scene: Annotated[int, typer.Option(help="images rendered per scene")] = 4,
    per_shard: Annotated[int, typer.Option(help="samples per tar shard")] = 256,
) -> None:
    """Render `n` images of `split` into webdataset-layout tar shards."""
    from .dataset import RenderedScenes
    from .shards import write_shards

    ds = RenderedScenes(split, size, images_per_scene, length=n)
    paths = write_shards((ds.spec(i) for i in range(n)), out, per_shard, prefix=f"world-{split}")
    typer.echo(f"wrote {len(paths)} shard(s) to {out}")


@app.command()
def suites(
    out: Annotated[Path, typer.Option(help="directory for *.json")] = Path("src/layercraft/world/suites"),
    count: Annotated[int, typer.Option(help="entries per suite")] = 24,
) -> None:
    """Write the benchmark suite specs (held-out test scenes) as JSON."""
    from .suites import SUITES, build_suite

    out.mkdir(parents=True, exist_ok=True)
    for name in SUITES:
        (out / f"{name}.json").write_text(json.dumps(build_suite(name, count), indent=1))
    typer.echo(f"wrote {len(SUITES)} suites to {out}")


@app.command("perception-report")
def perception_report(
    images: Annotated[int, typer.Option(help="held-out test scenes (128×128)")] = 1000,
    ids: Annotated[int, typer.Option(help="held-out identities for verification")] = 400,
    threads: Annotated[int, typer.Option(help="torch threads")] = 1,
    out: Annotated[Path | None, typer.Option(help="also write the figures as JSON here")] = None,
) -> None:
    """Re-measure the perception models' validation figures from the committed weights."""
    import torch

    from .perception.report import perception_report as measure

    torch.set_num_threads(threads)
    text = json.dumps(measure(images, ids, log=typer.echo), indent=1)
    typer.echo(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


if __name__ == "__main__":
    app()
