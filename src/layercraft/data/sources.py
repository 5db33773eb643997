"""What a preparation reads: photo files and video frames under the SOURCE paths, as a numbered plan.

`plan_items` walks every SOURCE (a file or a folder, recursively), sorted, and gives one item per
photo and one per video frame every `every` seconds. Item numbers are positions in this plan, so a
resumed preparation (which reads the plan back from the dataset folder) numbers items the same.
Videos whose container gives no duration or no video stream, or that cannot be opened, become
refusals (`no_frames`, `unreadable`) at planning time.

A folder may hold a `scene.txt`: its words (e.g. "on a beach at sunset") go into the template
captions of the photos under it (the nearest `scene.txt` up the tree wins).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..vision.errors import PhotoError
from ..vision.photo import MAX_PHOTO_BYTES, load_photo

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".heic"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg"}


@dataclass
class Item:
    id: int
    source: int  # index of the SOURCE argument
    name: str  # path relative to that SOURCE (its own name for a file SOURCE)
    time: float | None = None  # seconds into a video; None for a photo
    album: str = ""  # the folder relative to SOURCE: an album, or the video itself
    scene_words: str = ""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class PlanRefusal:
    source: int
    name: str
    reason: str
    detail: str


def _scene_words(path: Path, root: Path) -> str:
    for folder in [path.parent, *path.parent.parents]:
        f = folder / "scene.txt"
        if f.is_file():
            return " ".join(f.read_text(errors="replace").split())[:200]
        if folder == root or root not in folder.parents:
            break
    return ""


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.name != "scene.txt")


def video_duration(path: Path) -> float:
    """Seconds of video in `path` (0 when it has no video stream or no frames); PhotoError if unreadable."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return 0.0
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1e6
            else:
                seconds = 0.0
            if stream.frames == 0 and seconds <= 0:
                return 0.0
            return max(seconds, 0.0)
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise PhotoError(f"{path.name}: cannot open video ({err})") from None


def video_frame(path: Path, t: float, data: bytes | None = None) -> Image.Image:
    """The first frame at or after `t` seconds, as RGB; PhotoError when there is none. `data`: the file's
    bytes, already read (Ray Data's reader), instead of opening `path`."""
    import io

    import av

    try:
        with av.open(io.BytesIO(data) if data is not None else str(path)) as container:
            stream = container.streams.video[0]
            if t > 0 and stream.time_base is not None:
                container.seek(int(t / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time is None or frame.time >= t - 1e-3:
                    return load_photo(frame.to_image(), f"{path.name}@{t:.2f}s")
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as err:
        raise PhotoError(f"{path.name}@{t:.2f}s: cannot decode frame ({err})") from None
    raise PhotoError(f"{path.name}@{t:.2f}s: no frame at this time")


def plan_items(sources: list[Path], every: float = 2.0) -> tuple[list[Item], list[PlanRefusal]]:
    items: list[Item] = []
    refused: list[PlanRefusal] = []
    for k, src in enumerate(sources):
        root = Path(src)
        base = root.parent if root.is_file() else root
        for path in _files(root):
            name = path.relative_to(base).as_posix()
            album = Path(name).parent.as_posix() if root.is_dir() else ""
            album = "" if album == "." else album
            words = _scene_words(path, base)
            suffix = path.suffix.lower()
            if suffix in VIDEO_SUFFIXES:
                try:
                    seconds = video_duration(path)
                except PhotoError as err:
                    refused.append(PlanRefusal(k, name, "unreadable", str(err)))
                    continue
                if seconds <= 0:
                    refused.append(PlanRefusal(k, name, "no_frames", f"{name}: video has no frames"))
                    continue
                for t in np.arange(0.0, seconds, every):
                    items.append(Item(len(items), k, name, round(float(t), 3), name, words))
            else:  # photos, and anything else (refused later as unreadable if it is not an image)
                items.append(Item(len(items), k, name, None, album, words))
    return items, refused


def item_path(sources: list[Path], item: Item) -> Path:
    root = Path(sources[item.source])
    base = root.parent if root.is_file() else root
    return base / item.name


def load_item(sources: list[Path], item: Item, data: bytes | None = None) -> Image.Image:
    """The item's photo or video frame, from its file or from `data` (the file's bytes): the same checks
    and the same errors either way."""
    path = item_path(sources, item)
    if item.time is not None:
        return video_frame(path, item.time, data)
    if data is None:
        return load_photo(path, item.name)
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(f"{item.name}: file is larger than {MAX_PHOTO_BYTES >> 20} MiB")
    return load_photo(data, item.name)
