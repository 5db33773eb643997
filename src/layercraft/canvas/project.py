"""Project files: a versioned zip holding `manifest.json`, `canvas.json` and `images/*.png`.

Loading never trusts the archive: entry names with absolute or `..` paths, missing or extra
image entries, oversized members and unknown format versions are refused with an error naming the
entry. Saving writes a temp file beside the target and renames it, so a failure leaves nothing.
Older format versions are upgraded by the functions in `MIGRATIONS` (version → next version).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from .errors import CanvasError
from .images import encode_png, load_image
from .types import FORMAT_VERSION, Canvas, Layer
from .validate import validate_canvas

FORMAT_NAME = "layercraft-project"
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 512

# version n → function turning a version-n canvas.json dict into a version n+1 dict
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def _image_names(layer_id: str, n_refs: int) -> tuple[str, list[str]]:
    return f"images/{layer_id}.png", [f"images/{layer_id}.ref{k}.png" for k in range(n_refs)]


def canvas_to_json(canvas: Canvas) -> dict:
    """canvas.json content: the model dump plus, per layer, the zip entries of its pixels."""
    data = canvas.model_dump(mode="json")
    entries = ([(data["background"], canvas.background)] if canvas.background is not None else []) + list(
        zip(data["layers"], canvas.layers, strict=True)
    )
    for entry, layer in entries:
        entry["image"], entry["identity_refs"] = _image_names(layer.id, len(layer.identity_refs))
    return data


def save_project(canvas: Canvas, path: str | Path, *, stride: int | None = None) -> Path:
    """Write `canvas` to `path` atomically; with `stride`, validate it first (nothing is written if invalid)."""
    if stride is not None:
        validate_canvas(canvas, stride=stride)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved project gets normal permissions
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=2))
            zf.writestr("canvas.json", json.dumps(canvas_to_json(canvas), indent=2))
            for layer in canvas.all_layers():
                main, refs = _image_names(layer.id, len(layer.identity_refs))
                zf.writestr(main, encode_png(layer.image))
                for name, ref in zip(refs, layer.identity_refs, strict=True):
                    zf.writestr(name, encode_png(ref))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _safe_name(name: str) -> bool:
    p = PurePosixPath(name)
    return not (name.startswith(("/", "\\")) or p.is_absolute() or ".." in p.parts or ":" in name or "\\" in name)


def _read_json(zf: zipfile.ZipFile, name: str, where: Path) -> dict:
    try:
        data = json.loads(zf.read(name))
    except KeyError:
        raise CanvasError(f"{where}: missing {name}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CanvasError(f"{where}: {name} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise CanvasError(f"{where}: {name} must hold a JSON object")
    return data


def migrate(data: dict, version: int, where: Path) -> dict:
    if version > FORMAT_VERSION:
        raise CanvasError(f"{where}: format version {version} is newer than this layercraft ({FORMAT_VERSION})")
    while version < FORMAT_VERSION:
        if version not in MIGRATIONS:
            raise CanvasError(f"{where}: no migration from format version {version}")
        data = MIGRATIONS[version](data)
        version += 1
    data["version"] = FORMAT_VERSION
    return data


def load_project(path: str | Path) -> Canvas:
    path = Path(path)
    if not path.is_file():
        raise CanvasError(f"project file not found: {path}")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise CanvasError(f"{path}: not a zip archive (corrupt or not a layercraft project)") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise CanvasError(f"{path}: {len(infos)} entries, more than the limit of {MAX_MEMBERS}")
        for info in infos:
            if not _safe_name(info.filename):
                raise CanvasError(f"{path}: unsafe entry name {info.filename!r} (absolute or '..' path)")
            if info.file_size > MAX_MEMBER_BYTES:
                raise CanvasError(f"{path}: entry {info.filename!r} is larger than {MAX_MEMBER_BYTES >> 20} MiB")
        manifest = _read_json(zf, "manifest.json", path)
        if manifest.get("format") != FORMAT_NAME:
            raise CanvasError(f"{path}: manifest.json format is {manifest.get('format')!r}, not {FORMAT_NAME!r}")
        version = manifest.get("version")
        if not isinstance(version, int):
            raise CanvasError(f"{path}: manifest.json has no integer format version")
        data = migrate(_read_json(zf, "canvas.json", path), version, path)
        names = set(zf.namelist())

        def read_image(entry: object, what: str):
            if not isinstance(entry, str) or entry not in names:
                raise CanvasError(f"{path}: {what} refers to missing image entry {entry!r}")
            return load_image(zf.read(entry), name=f"{path.name}:{entry}")

        def build_layer(d: object, what: str) -> Layer:
            if not isinstance(d, dict):
                raise CanvasError(f"{path}: {what} must be a JSON object")
            d = dict(d)
            d["image"] = read_image(d.get("image"), f"{what} image")
            refs = d.get("identity_refs", [])
            if not isinstance(refs, list):
                raise CanvasError(f"{path}: {what} identity_refs must be a list")
            d["identity_refs"] = [read_image(r, f"{what} identity ref {k}") for k, r in enumerate(refs)]
            try:
                return Layer(**d)
            except ValidationError as err:
                raise CanvasError(f"{path}: {what} is invalid: {_explain(err)}") from None

        layers = data.get("layers", [])
        if not isinstance(layers, list):
            raise CanvasError(f"{path}: canvas.json 'layers' must be a list")
        data["layers"] = [build_layer(d, f"layer {k} ({_lid(d)})") for k, d in enumerate(layers)]
        if data.get("background") is not None:
            data["background"] = build_layer(data["background"], "background layer")
        try:
            return Canvas(**data)
        except ValidationError as err:
            raise CanvasError(f"{path}: canvas.json is invalid: {_explain(err)}") from None


def _lid(d: object) -> str:
    return repr(d.get("id")) if isinstance(d, dict) else "?"


def _explain(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in err.errors(include_url=False)
    )
