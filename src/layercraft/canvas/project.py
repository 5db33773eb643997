"""Project files: a versioned zip holding `manifest.json`, `canvas.json` and `images/*.png`.

Loading never trusts the archive. Every limit in `limits.LIMITS` is enforced while reading: the
entry count and central directory size before the zip is parsed; entry names (absolute or `..`
paths, duplicates), encryption and compression methods (only stored and deflate) from the
directory; and each entry's size while it inflates, whatever its header claims. canvas.json is
checked in full before any image is decoded, each distinct image is decoded once (by content
hash) however many layers use it, and the decoded pixels of one project have a budget. Every
refusal is a `CanvasError` naming the entry. Saving writes a temp file beside the target and
renames it, so a failure leaves nothing. Older format versions are upgraded by the functions in
`MIGRATIONS` (version → next version).
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from PIL import Image
from pydantic import ValidationError

from .errors import CanvasError, LimitError, ProjectFileError
from .images import encode_png, load_image
from .limits import LIMITS, Limits, json_depth_ok
from .types import FORMAT_VERSION, Canvas, Layer
from .validate import validate_canvas

FORMAT_NAME = "layercraft-project"
MAX_MEMBER_BYTES = LIMITS.max_member_bytes
MAX_MEMBERS = LIMITS.max_members

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


def save_project(canvas: Canvas, path: str | Path, *, stride: int | None = None, compress_level: int = 6) -> Path:
    """Write `canvas` to `path` atomically; with `stride`, validate it first (nothing is written if invalid).

    `compress_level` (0-9) is the PNG compression of the images; 1 saves large projects many times faster."""
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
                zf.writestr(main, encode_png(layer.image, compress_level))
                for name, ref in zip(refs, layer.identity_refs, strict=True):
                    zf.writestr(name, encode_png(ref, compress_level))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _safe_name(name: str) -> bool:
    p = PurePosixPath(name)
    return not (name.startswith(("/", "\\")) or p.is_absolute() or ".." in p.parts or ":" in name or "\\" in name
                or any(ord(ch) < 32 for ch in name))


# What a damaged or hostile archive raises while it is read (zipfile raises RuntimeError for encrypted entries and
# KeyError / IndexError / struct.error on a mangled directory): each becomes a one-line ProjectFileError.
_CONTAINER_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
                     OSError, ValueError, struct.error, lzma.LZMAError, KeyError, IndexError, OverflowError)
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"


def _check_directory(fp: BinaryIO, size: int, where: str, limits: Limits) -> None:
    """Read the end-of-central-directory record ourselves, so a huge directory is refused unparsed."""
    tail_len = min(size, 22 + 0xFFFF)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    at = len(tail) - 22 if tail[-22:-18] == _EOCD and tail[-2:] == b"\0\0" else tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise ProjectFileError(f"{where}: not a zip archive (corrupt or not a layercraft project)")
    entries, cd_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries == 0xFFFF or (at >= 20 and tail[at - 20 : at - 16] == _ZIP64_LOCATOR):
        raise ProjectFileError(f"{where}: zip64 archives are not used by layercraft projects")
    if entries > limits.max_members:
        raise LimitError(f"{where}: {entries} entries, more than the limit of {limits.max_members}")
    if cd_size > limits.max_directory_bytes:
        raise LimitError(f"{where}: the zip directory is {cd_size} bytes, over the limit of "
                         f"{limits.max_directory_bytes}")
    fp.seek(0)


class _Reader:
    """Reads entries of one open archive with every size counted while inflating."""

    def __init__(self, zf: zipfile.ZipFile, where: str, limits: Limits) -> None:
        self.zf, self.where, self.limits = zf, where, limits
        self.unpacked = 0
        self.pixels = 0
        self.names: set[str] = set()
        self._images: dict[str, Image.Image] = {}  # entry name → decoded image
        self._by_hash: dict[bytes, Image.Image] = {}  # content hash → decoded image
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise LimitError(f"{where}: {len(infos)} entries, more than the limit of {limits.max_members}")
        for info in infos:
            name = info.filename
            if len(name.encode("utf-8", "surrogateescape")) > limits.max_name_bytes:
                raise LimitError(f"{where}: an entry name is longer than {limits.max_name_bytes} bytes")
            if not _safe_name(name):
                raise ProjectFileError(f"{where}: unsafe entry name {name!r} (absolute or '..' path)")
            if name in self.names:
                raise ProjectFileError(f"{where}: entry {name!r} appears more than once")
            self.names.add(name)
            if info.flag_bits & 0x1:
                raise ProjectFileError(f"{where}: entry {name!r} is encrypted")
            if info.compress_type not in _METHODS:
                raise ProjectFileError(f"{where}: entry {name!r} uses compression method {info.compress_type}; "
                                       "only stored and deflate are accepted")
            if info.file_size > limits.max_member_bytes:
                raise LimitError(f"{where}: entry {name!r} is larger than {limits.max_member_bytes >> 20} MiB")

    def read(self, name: str, cap: int) -> bytes:
        """The entry's bytes, refusing it as soon as more than `cap` (or the project budget) come out."""
        if name not in self.names:
            raise CanvasError(f"{self.where}: missing {name}")
        chunks, total = [], 0
        try:
            with self.zf.open(name) as f:
                while chunk := f.read(1 << 20):
                    total += len(chunk)
                    if total > cap:
                        raise LimitError(f"{self.where}: entry {name!r} inflates to more than {cap} bytes")
                    if self.unpacked + total > self.limits.max_unpacked_bytes:
                        raise LimitError(f"{self.where}: the entries inflate to more than "
                                         f"{self.limits.max_unpacked_bytes} bytes in all")
                    chunks.append(chunk)
        except CanvasError:
            raise
        except _CONTAINER_ERRORS as err:
            raise ProjectFileError(f"{self.where}: entry {name!r} is corrupt ({type(err).__name__}: {err})") from None
        self.unpacked += total
        return b"".join(chunks)

    def json(self, name: str) -> dict:
        data = self.read(name, self.limits.max_json_bytes)
        try:
            value = json.loads(data)
        except (ValueError, RecursionError, UnicodeDecodeError) as err:
            detail = err if isinstance(err, json.JSONDecodeError) else f"{type(err).__name__}: {err}"
            raise CanvasError(f"{self.where}: {name} is not valid JSON ({detail})") from None
        if not isinstance(value, dict):
            raise CanvasError(f"{self.where}: {name} must hold a JSON object")
        if not json_depth_ok(value, self.limits.max_json_depth):
            raise LimitError(f"{self.where}: {name} nests deeper than {self.limits.max_json_depth} levels")
        return value

    def image(self, entry: object, what: str) -> Image.Image:
        """The decoded entry; each entry is read once and each distinct content decoded once."""
        if not isinstance(entry, str) or entry not in self.names:
            raise CanvasError(f"{self.where}: {what} refers to missing image entry {entry!r}")
        if entry in self._images:
            return self._images[entry]
        data = self.read(entry, min(self.limits.max_member_bytes, self.limits.max_image_bytes))
        digest = hashlib.sha256(data).digest()
        img = self._by_hash.get(digest)
        if img is None:
            img = load_image(data, name=f"{self.where}:{entry}", max_pixels=self.limits.max_image_pixels,
                             budget_left=self.limits.max_project_pixels - self.pixels)
            self.pixels += img.width * img.height
            self._by_hash[digest] = img
        self._images[entry] = img
        return img


def migrate(data: dict, version: int, where: Path | str) -> dict:
    if version > FORMAT_VERSION:
        raise CanvasError(f"{where}: format version {version} is newer than this layercraft ({FORMAT_VERSION})")
    while version < FORMAT_VERSION:
        if version not in MIGRATIONS:
            raise CanvasError(f"{where}: no migration from format version {version}")
        data = MIGRATIONS[version](data)
        version += 1
    data["version"] = FORMAT_VERSION
    return data


_STAND_IN = Image.new("RGBA", (1, 1))


def load_project(source: str | Path | bytes, *, limits: Limits = LIMITS, name: str | None = None) -> Canvas:
    """The canvas in a project file (a path, or the file's bytes), or a CanvasError naming the fault.

    Nothing bigger than `limits` allows is ever read, inflated or decoded.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        where = name or "project file"
        size = len(source)
        opener: Callable[[], BinaryIO] = lambda: io.BytesIO(source)  # noqa: E731
    else:
        path = Path(source)
        where = name or str(path)
        if not path.is_file():
            raise CanvasError(f"project file not found: {path}")
        size = path.stat().st_size
        opener = lambda: path.open("rb")  # noqa: E731
    if size > limits.max_file_bytes:
        raise LimitError(f"{where}: the file is {size} bytes, over the limit of {limits.max_file_bytes}")
    try:
        with opener() as fp:
            _check_directory(fp, size, where, limits)
            try:
                zf = zipfile.ZipFile(fp)
            except _CONTAINER_ERRORS as err:
                raise ProjectFileError(f"{where}: not a readable zip archive ({type(err).__name__}: {err})") from None
            with zf:
                return _load(_Reader(zf, where, limits), where, limits)
    except OSError as err:
        raise CanvasError(f"{where}: cannot be read ({err.strerror or err})") from None
    except (MemoryError, RecursionError) as err:
        raise LimitError(f"{where}: too large to load ({type(err).__name__})") from None


def _load(reader: _Reader, where: str, limits: Limits) -> Canvas:
    manifest = reader.json("manifest.json")
    if manifest.get("format") != FORMAT_NAME:
        raise CanvasError(f"{where}: manifest.json format is {manifest.get('format')!r}, not {FORMAT_NAME!r}")
    version = manifest.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CanvasError(f"{where}: manifest.json has no integer format version")
    data = migrate(reader.json("canvas.json"), version, where)

    # Everything but the pixels is checked first (layers are validated with 1×1 stand-in images), so a bad or
    # oversized canvas.json is refused before a single image is decoded.
    layers = data.get("layers", [])
    if not isinstance(layers, list):
        raise CanvasError(f"{where}: canvas.json 'layers' must be a list")
    if len(layers) > limits.max_layers:
        raise LimitError(f"{where}: canvas has {len(layers)} layers, more than the limit of {limits.max_layers}")
    for key in ("width", "height"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and not 0 < value <= limits.max_side:
            raise LimitError(f"{where}: canvas {key} {value} is outside 1..{limits.max_side}")

    def check_layer(d: object, what: str) -> tuple[Layer, object, list]:
        if not isinstance(d, dict):
            raise CanvasError(f"{where}: {what} must be a JSON object")
        d = dict(d)
        image, refs = d.get("image"), d.get("identity_refs", [])
        if not isinstance(refs, list):
            raise CanvasError(f"{where}: {what} identity_refs must be a list")
        if len(refs) > limits.max_identity_refs:
            raise LimitError(f"{where}: {what} has {len(refs)} identity references, more than the limit of "
                             f"{limits.max_identity_refs}")
        d["image"], d["identity_refs"] = _STAND_IN, [_STAND_IN] * len(refs)
        try:
            return Layer(**d), image, refs
        except ValidationError as err:
            raise CanvasError(f"{where}: {what} is invalid: {_explain(err)}") from None
        except TypeError as err:  # a key that is not a field name string
            raise CanvasError(f"{where}: {what} is invalid: {err}") from None

    checked = [check_layer(d, f"layer {k} ({_lid(d)})") for k, d in enumerate(layers)]
    background = check_layer(data["background"], "background layer") if data.get("background") is not None else None
    fields = {k: v for k, v in data.items() if k not in ("layers", "background")}
    try:
        Canvas(**fields, layers=[c[0] for c in checked], background=background[0] if background else None)
    except ValidationError as err:
        raise CanvasError(f"{where}: canvas.json is invalid: {_explain(err)}") from None
    except TypeError as err:
        raise CanvasError(f"{where}: canvas.json is invalid: {err}") from None

    def with_pixels(item: tuple[Layer, object, list], what: str) -> Layer:
        layer, image, refs = item
        return layer.model_copy(update={
            "image": reader.image(image, f"{what} image"),
            "identity_refs": [reader.image(r, f"{what} identity ref {k}") for k, r in enumerate(refs)],
        })

    real = [with_pixels(c, f"layer {k} ({c[0].id!r})") for k, c in enumerate(checked)]
    bg = with_pixels(background, "background layer") if background else None
    return Canvas(**fields, layers=real, background=bg)


def _lid(d: object) -> str:
    return repr(d.get("id")) if isinstance(d, dict) else "?"


def _explain(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in err.errors(include_url=False)
    )
