"""A small real-photo set for preparation tests and the benchmark, built from photos that ship in
installed packages (scikit-image's astronaut and lfw_subset, matplotlib's grace_hopper.jpg): several
images per identity as mirrored / cropped / recoloured / rescaled copies, a group photo of both, a
short video, and the bad inputs the issue lists. Nothing here is a committed photo."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import matplotlib
import numpy as np
import skimage.data
from PIL import Image, ImageOps

# what `build` makes: per file, the identity it shows ("A" astronaut, "G" grace) or the refusal expected
KEPT = {
    "alice/astronaut.png": "A", "alice/mirror.png": "A", "alice/crop.png": "A", "alice/recolour.jpg": "A",
    "bob/grace.jpg": "G", "bob/mirror.png": "G", "bob/small.png": "G", "group/both.png": "AG",
}
REFUSED = {
    "bad/coffee.png": "no_face", "bad/tiny.png": "face_too_small", "bad/empty.jpg": "empty_file",
    "bad/junk.jpg": "unreadable", "bad/huge.png": "too_large", "bad/blurry.png": "blurry",
    "alice/resaved.jpg": "duplicate", "bad/empty.mp4": "no_frames",
}


def astronaut() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut())


def grace() -> Image.Image:
    return Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height pixels, with one tiny IDAT (never fully allocated)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def write_video(path: Path, frames: list[Image.Image], fps: int = 2) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        for im in frames:
            for packet in stream.encode(av.VideoFrame.from_image(im)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def write_empty_video(path: Path) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=2)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        out.start_encoding()  # a header, and no frame


def build(root: Path, *, video: bool = True, bad: bool = True) -> Path:
    """Write the photo set under `root` (folders alice/, bob/, group/, bad/, clips/) and return it."""
    a, g = astronaut(), grace()
    for d in ("alice", "bob", "group", "bad", "clips"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "alice" / "scene.txt").write_text("in a space centre\n")
    a.save(root / "alice/astronaut.png")
    ImageOps.mirror(a).save(root / "alice/mirror.png")
    a.crop((40, 0, 470, 430)).resize((400, 400)).save(root / "alice/crop.png")
    arr = np.asarray(a.crop((0, 20, 500, 500)))
    Image.fromarray(arr[..., [2, 0, 1]]).save(root / "alice/recolour.jpg", quality=92)
    g.save(root / "bob/grace.jpg", quality=95)
    ImageOps.mirror(g).save(root / "bob/mirror.png")
    g.crop((30, 20, 512, 520)).resize((340, 352)).save(root / "bob/small.png")
    both = Image.new("RGB", (900, 600), (200, 200, 205))
    both.paste(a.crop((56, 0, 456, 512)).resize((375, 480)), (20, 120))
    both.paste(g.resize((410, 480)), (460, 120))
    both.save(root / "group/both.png")
    if bad:
        a.save(root / "alice/resaved.jpg", quality=97)  # a duplicate of alice/astronaut.png
        Image.fromarray(skimage.data.coffee()).save(root / "bad/coffee.png")
        tiny = Image.new("RGB", (256, 256), (120, 130, 140))
        tiny.paste(a.resize((150, 150)), (53, 53))  # a face ≈ 30 px: under --min-face 40
        tiny.save(root / "bad/tiny.png")
        from PIL import ImageFilter

        a.filter(ImageFilter.GaussianBlur(6)).crop((60, 10, 460, 410)).save(root / "bad/blurry.png")
        (root / "bad/empty.jpg").write_bytes(b"")
        (root / "bad/junk.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes())
        (root / "bad/huge.png").write_bytes(huge_png_header(20000, 10001))  # 200.02 MP
        write_empty_video(root / "bad/empty.mp4")
    if video:
        frames = [a.crop((30 + 20 * k, 0, 430 + 20 * k, 400)).resize((256, 256)) for k in range(4)]
        write_video(root / "clips/walk.mp4", frames, fps=2)  # 2 s: frames at 0 s and 1 s with every=1
    return root


OPTIONS = {"max_side": 256, "chunk": 3, "every": 1.0, "per_shard": 4}


def reference_folder(root: Path) -> Path:
    """One reference face photo: a crop of grace_hopper (the AnyPhoto reference of identity G)."""
    ref = root / "refs"
    ref.mkdir(parents=True, exist_ok=True)
    grace().crop((60, 30, 460, 430)).save(ref / "grace.png")
    return ref


def prepared(base: Path) -> tuple[Path, Path]:
    """(photo folder, dataset) under `base`, prepared once per test session (reused if already there)."""
    from layercraft.data import PrepareOptions, prepare

    photos, ds = base / "photos", base / "dataset"
    if not (ds / "index.json").is_file():
        build(photos)
        refs = reference_folder(base)
        prepare([photos], ds, PrepareOptions(**OPTIONS, references=str(refs)), workers=1)
    return photos, ds


def names(ds: Path) -> dict[str, dict]:
    """source name (`name` or `name@t`) → its index record, for the kept images of a dataset."""
    import json

    items = json.loads((ds / "work" / "plan.json").read_text())["items"]
    index = json.loads((ds / "index.json").read_text())
    from layercraft.data import PreparedDataset

    d = PreparedDataset(ds)
    out = {}
    for n, rec in enumerate(index["images"]):
        it = items[d.meta(n)["item"]]
        out[it["name"] + (f"@{it['time']:g}" if it["time"] is not None else "")] = rec
    return out


SMALL_OPTIONS = {"max_side": 256, "chunk": 1}


def small_set(base: Path) -> tuple[Path, Path]:
    """Four photos of two people (astronaut, grace: each plain and mirrored) and their dataset."""
    from layercraft.data import PrepareOptions, prepare

    photos, ds = base / "photos", base / "dataset"
    if not (ds / "index.json").is_file():
        photos.mkdir(parents=True, exist_ok=True)
        a, g = astronaut().resize((256, 256)), grace().resize((220, 256))
        a.save(photos / "a.png")
        ImageOps.mirror(a).save(photos / "a2.png")
        g.save(photos / "g.png")
        ImageOps.mirror(g).save(photos / "g2.png")
        prepare([photos], ds, PrepareOptions(**SMALL_OPTIONS), workers=1)
    return photos, ds


def cameraman() -> Image.Image:
    return Image.fromarray(skimage.data.camera()).convert("RGB")


def pair(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two people side by side on a grey ground (each scaled to 300 px high)."""
    a, b = (im.resize((round(im.width * 300 / im.height), 300)) for im in (left, right))
    out = Image.new("RGB", (a.width + b.width + 30, 340), (200, 200, 205))
    out.paste(a, (10, 30))
    out.paste(b, (a.width + 20, 30))
    return out


def three_people(base: Path, **options) -> tuple[Path, Path]:
    """Three people (astronaut A, grace G, cameraman C) alone and in two pairs — a.png, ag.png, c.png,
    g.png, gc.png — so that the pairs join all three into one scene; and their dataset."""
    from layercraft.data import PrepareOptions, prepare

    photos, ds = base / "photos", base / "dataset"
    if not (ds / "index.json").is_file():
        photos.mkdir(parents=True, exist_ok=True)
        a, g, c = astronaut().crop((56, 0, 456, 512)), grace(), cameraman().crop((120, 0, 420, 400))
        a.save(photos / "a.png")
        g.save(photos / "g.png")
        c.save(photos / "c.png")
        pair(a, g).save(photos / "ag.png")
        pair(g, c).save(photos / "gc.png")
        prepare([photos], ds, PrepareOptions(**{**SMALL_OPTIONS, **options}), workers=1)
    return photos, ds
