import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from layercraft.canvas import Canvas, CanvasError, ImageError, Layer, Placement, load_image, load_project, save_project
from layercraft.canvas.builders import background_layer
from layercraft.canvas.project import MIGRATIONS
from layercraft.cli import app
from lc_images import noise_image, solid


def make_canvas() -> Canvas:
    a = Layer(id="p0", name="Ann", image=noise_image(12, 20, 1),
              placement=Placement(x=3.5, y=4, scale=1.5, rotation=10),
              locked=True, descriptor="a red striped shirt", identity_refs=[noise_image(8, 8, 2)],
              landmarks=[[1, 2], [3, 2], [2, 3], [1, 4], [3, 4]])
    b = Layer(id="p1", image=noise_image(10, 10, 3), category="face", visible=False,
              placement=Placement(flip_h=True))
    return Canvas(width=64, height=48, layers=[a, b], background=background_layer(noise_image(30, 20, 4), 64, 48),
                  prompt="two people on a beach")


def test_round_trip_is_exact(tmp_path):
    c = make_canvas()
    path = save_project(c, tmp_path / "p.lcp")
    d = load_project(path)
    assert d.model_dump(mode="json") == c.model_dump(mode="json")
    for x, y in zip(c.all_layers(), d.all_layers(), strict=True):
        assert np.array_equal(np.asarray(x.image), np.asarray(y.image))
        assert [np.asarray(r).tobytes() for r in x.identity_refs] == [np.asarray(r).tobytes() for r in y.identity_refs]
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read("manifest.json")) == {"format": "layercraft-project", "version": 1}


def _write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)


def _valid_members(tmp_path) -> dict[str, bytes]:
    p = save_project(make_canvas(), tmp_path / "ok.lcp")
    with zipfile.ZipFile(p) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("mutate, message", [
    (lambda m: m.pop("canvas.json"), "missing canvas.json"),
    (lambda m: m.update({"canvas.json": b"{not json"}), "canvas.json is not valid JSON"),
    (lambda m: m.update({"manifest.json": b'{"format": "layercraft-project", "version": 99}'}), "newer"),
    (lambda m: m.update({"manifest.json": b'{"format": "other", "version": 1}'}), "format is 'other'"),
    (lambda m: m.pop("images/p0.png"), "missing image entry 'images/p0.png'"),
    (lambda m: m.update({"images/p0.png": m["images/p0.png"][:300]}), "corrupt or truncated"),
    (lambda m: m.update({"images/p0.png": b"hello"}), "not a recognised image"),
    (lambda m: m.update({"../evil.png": b"x"}), "unsafe entry name '../evil.png'"),
    (lambda m: m.update({"/abs.png": b"x"}), "unsafe entry name '/abs.png'"),
])
def test_bad_project_files_are_refused_by_name(tmp_path, mutate, message):
    members = _valid_members(tmp_path)
    mutate(members)
    path = tmp_path / "bad.lcp"
    _write_zip(path, members)
    with pytest.raises(CanvasError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_project(path)
    # the CLI names the same problem, exits 2 and writes nothing
    out = tmp_path / "render"
    res = CliRunner().invoke(app, ["canvas", "render", str(path), "--out", str(out)])
    assert res.exit_code == 2 and message in res.output and not out.exists()


def _edit_canvas(tmp_path, edit) -> pytest.ExceptionInfo:
    members = _valid_members(tmp_path)
    data = json.loads(members["canvas.json"])
    edit(data)
    members["canvas.json"] = json.dumps(data).encode()
    _write_zip(tmp_path / "bad.lcp", members)
    with pytest.raises(CanvasError) as info:
        load_project(tmp_path / "bad.lcp")
    return info


def test_unknown_category_is_named(tmp_path):
    info = _edit_canvas(tmp_path, lambda d: d["layers"][0].update(category="dragon"))
    assert "layer 0 ('p0')" in str(info.value) and "category" in str(info.value)


def test_nan_placement_is_named(tmp_path):
    info = _edit_canvas(tmp_path, lambda d: d["layers"][1]["placement"].update(x=float("nan")))
    assert "placement.x must be a finite number" in str(info.value)


def test_corrupt_zip_and_missing_file(tmp_path):
    (tmp_path / "x.lcp").write_bytes(b"not a zip at all")
    with pytest.raises(CanvasError, match="not a zip archive"):
        load_project(tmp_path / "x.lcp")
    with pytest.raises(CanvasError, match="project file not found"):
        load_project(tmp_path / "nope.lcp")


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    import layercraft.canvas.project as project

    def boom(img, *args):
        raise OSError("disk full")

    monkeypatch.setattr(project, "encode_png", boom)
    with pytest.raises(OSError, match="disk full"):
        save_project(make_canvas(), tmp_path / "p.lcp")
    assert list(tmp_path.iterdir()) == []


def test_image_guards(tmp_path):
    with pytest.raises(ImageError, match="over the limit"):
        load_image(_png(Image.new("L", (300, 300))), name="big", max_pixels=256 * 256)
    with pytest.raises(ImageError, match="unsupported image mode 'I;16'"):
        load_image(_png(Image.new("I;16", (4, 4))), name="deep")
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="empty file"):
        load_image(b"")
    png = _png(solid(64, 64))
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(png[: len(png) // 2], name="cut")
    assert load_image(_png(Image.new("P", (3, 3)))).mode == "RGBA"


def test_bomb_in_project_is_refused_before_decoding(tmp_path):
    from dataclasses import replace

    from layercraft.canvas.limits import LIMITS

    members = _valid_members(tmp_path)
    _write_zip(tmp_path / "bad.lcp", members)
    with pytest.raises(CanvasError, match="decompression bomb guard"):
        load_project(tmp_path / "bad.lcp", limits=replace(LIMITS, max_image_pixels=100))


def test_migration_hook_upgrades_old_versions(tmp_path, monkeypatch):
    members = _valid_members(tmp_path)
    data = json.loads(members["canvas.json"])
    data["prompt_text"] = data.pop("prompt")  # pretend version 0 named the field differently
    members["canvas.json"] = json.dumps(data).encode()
    members["manifest.json"] = b'{"format": "layercraft-project", "version": 0}'
    _write_zip(tmp_path / "old.lcp", members)
    with pytest.raises(CanvasError, match="no migration from format version 0"):
        load_project(tmp_path / "old.lcp")

    def v0_to_v1(d):
        d = dict(d)
        d["prompt"] = d.pop("prompt_text")
        return d

    monkeypatch.setitem(MIGRATIONS, 0, v0_to_v1)
    c = load_project(tmp_path / "old.lcp")
    assert c.prompt == "two people on a beach" and c.version == 1
