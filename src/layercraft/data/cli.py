"""`layercraft data prepare | info`: photos and videos → a training dataset, and what is in one.

Every error a user can cause (a missing source, an existing dataset without --resume, a bad
option, a model not installed) is one line on stderr and exit code 2. Photos that cannot be used
are not errors: they are refused, each with its reason, in the dataset's report.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..vision.assets import ModelMissingError
from ..vision.errors import VisionError
from .dataset import DatasetError, PreparedDataset, contact_sheet

app = typer.Typer(help="Training data from your own photos: prepare a dataset, inspect it.", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command("prepare")
def prepare_cmd(
    sources: Annotated[list[Path] | None, typer.Argument(help="Photo / video files or folders (recursive).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to write.")] = ...,
    engine: Annotated[str, typer.Option(help="local (a process pool) or ray (Ray Data actors).")] = "local",
    workers: Annotated[int, typer.Option(help="Worker processes / Ray actors (0: one per CPU).")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue a preparation in an existing --out folder.")] = False,
    captioner: Annotated[Path | None, typer.Option(help="Local transformers captioning model folder.")] = None,
    min_face: Annotated[float, typer.Option(help="Refuse photos whose largest face is smaller (px).")] = 40.0,
    min_sharpness: Annotated[float, typer.Option(help="Refuse photos whose largest face is blurrier.")] = 15.0,
    max_identities: Annotated[int, typer.Option(help="At most this many identities per scene.")] = 6,
    dup_distance: Annotated[int, typer.Option(help="Difference-hash bits (0-3) within which a photo is a copy.")] = 3,
    every: Annotated[float, typer.Option(help="Seconds between the frames taken from a video.")] = 2.0,
    max_side: Annotated[int, typer.Option(help="Stored photo size (longer side, px).")] = 1024,
    chunk: Annotated[int, typer.Option(help="Items per work shard (the unit of resumption).")] = 64,
    per_shard: Annotated[int, typer.Option(help="Samples per output shard.")] = 256,
    references: Annotated[Path | None, typer.Option(help="Folder of reference face photos to match (AnyPhoto).")]
    = None,
    exclude_identity: Annotated[list[int] | None, typer.Option(help="Remove this identity's photos (repeatable).")]
    = None,
    store_paths: Annotated[bool, typer.Option(help="Store each photo's source path in its sample.")] = False,
    gpus_per_worker: Annotated[float, typer.Option(help="GPUs per Ray actor (0: one CPU each); a --captioner "
                                                        "runs on it, the bundled models stay on the CPU.")] = 0.0,
    holdout: Annotated[float, typer.Option(help="Fraction of scenes held out from training (by scene hash).")]
    = 0.0,
) -> None:
    """Prepare a dataset: people as RGBA layers, faces, identities, scenes, captions, in tar shards."""
    if min_face <= 0 or max_side < 64 or max_identities < 1 or every <= 0 or chunk < 1 or per_shard < 1:
        _fail("--min-face, --every must be > 0; --max-side ≥ 64; --max-identities, --chunk, --per-shard ≥ 1")
    if not 0 <= dup_distance <= 3:
        _fail("--dup-distance must be 0-3")
    if gpus_per_worker < 0 or gpus_per_worker and engine != "ray":
        _fail("--gpus-per-worker must be ≥ 0, and is for --engine ray")
    if not 0 <= holdout < 1:
        _fail("--holdout must be at least 0 and under 1")
    if references is not None and not references.is_dir():
        _fail(f"--references {references}: not a folder")
    from .perceive import PrepareOptions  # the perception stack (scipy, scikit-image, dlib): only to prepare
    from .prepare import DataError, prepare

    opts = PrepareOptions(max_side=max_side, min_face=min_face, min_sharpness=min_sharpness,
                          max_identities=max_identities, dup_distance=dup_distance, every=every, chunk=chunk,
                          per_shard=per_shard, captioner=str(captioner) if captioner else None, store_paths=store_paths,
                          references=str(references) if references else None, holdout=holdout)
    try:
        counts = prepare(list(sources or []), out, opts, engine=engine, workers=workers or None, resume=resume,
                         exclude=list(exclude_identity or []), gpus_per_worker=gpus_per_worker,
                         log=lambda s: typer.echo(s, err=True))
    except (DataError, DatasetError, VisionError, ModelMissingError) as err:
        _fail(str(err).splitlines()[0])
    typer.echo(json.dumps(counts))


@app.command("info")
def info_cmd(
    dataset: Annotated[Path, typer.Argument(help="A dataset folder made by `layercraft data prepare`.")],
    sheet: Annotated[Path | None, typer.Option(help="Contact sheet to write (default DATASET/contact.png).")] = None,
    limit: Annotated[int, typer.Option(help="Images on the contact sheet.")] = 48,
) -> None:
    """Counts (images, scenes, identities, layers, refusals by reason) and a contact sheet."""
    try:
        ds = PreparedDataset(dataset)
    except DatasetError as err:
        _fail(str(err))
    c = ds.index["counts"]
    typer.echo(f"{dataset}: {c['images']} images, {c['scenes']} scenes, {c['identities']} identities, "
               f"{c['layers']} layers; {c['refused']} refused")
    for reason, n in c["refusals"].items():
        typer.echo(f"  refused {reason}: {n}")
    split = ds.index.get("split")
    if split:
        for name in ("train", "holdout"):
            s = split[name]
            typer.echo(f"  {name} split: {s['images']} images, {s['scenes']} scenes, {s['identities']} identities, "
                       f"{len(s['shards'])} shards" + (f" (fraction {split['fraction']:g} of scenes)"
                                                         if name == "holdout" else ""))
    path = contact_sheet(ds, sheet or dataset / "contact.png", limit=limit)
    typer.echo(f"contact sheet: {path}")


if __name__ == "__main__":  # `python -m layercraft.data.cli …`: the data commands without the whole CLI's imports
    app()
