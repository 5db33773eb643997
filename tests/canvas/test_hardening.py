"""Hostile inputs to the loader, the rasterizer and the command line: each is refused cleanly or
handled in bounded memory, and every refusal is one line on stderr with exit code 2."""

import io
import json
import os
import resource
import struct
import zipfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from layercraft.canvas import Canvas, CanvasError, Layer, Placement, load_project, save_project, validate_canvas
from layercraft.canvas import project as project_module
from layercraft.canvas.errors import LimitError, ProjectFileError
from layercraft.canvas.limits import LIMITS
from layercraft.canvas.raster import rasterize_layer
from layercraft.cli import app
from layercraft.examples import example_path
from lc_images import noise_image

MANIFEST = json.dumps({"format": "layercraft-project", "version": 1})


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_zip(path, members, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in (members.items() if isinstance(members, dict) else members):
            zf.writestr(name, data)
    return path


def canvas_json(layers, width=64, height=64, **extra):
    return json.dumps({"width": width, "height": height, "layers": layers, **extra})


def layer(i, image="images/a.png", **kw):
    return {"id": f"l{i}", "image": image, **kw}


def refused(path, *args):
    """Run `canvas render PATH`: the refusal must be exit code 2 and exactly one 'error:' line."""
    res = CliRunner().invoke(app, ["canvas", "render", str(path), "--out", str(path.parent / "render"), *args])
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in res.output, res.stderr
    return lines[0]


def count_decodes(monkeypatch):
    calls = []
    real = project_module.load_image

    def counting(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(project_module, "load_image", counting)
    return calls


def run_capped(fn, cap_bytes: int) -> int:
    """Run fn() in a forked child whose address space may grow by at most cap_bytes; its exit code."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            vm = next(int(ln.split()[1]) * 1024 for ln in open("/proc/self/status") if ln.startswith("VmSize:"))
            resource.setrlimit(resource.RLIMIT_AS, (vm + cap_bytes, vm + cap_bytes))
            fn()
            code = 0
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# ---- 1. one image referenced many times is decoded once; a pixel budget per project ----------

def test_one_image_shared_by_every_layer_and_ref_is_decoded_once(tmp_path, monkeypatch):
    big = png(noise_image(512, 512, 1))
    layers = [layer(i, identity_refs=["images/a.png", "images/copy.png"] * 4) for i in range(32)]
    path = write_zip(tmp_path / "p.lcp", {"manifest.json": MANIFEST, "canvas.json": canvas_json(layers),
                                           "images/a.png": big, "images/copy.png": big})
    calls = count_decodes(monkeypatch)
    c = load_project(path)
    assert len(calls) == 1  # 32 layers × (1 + 8 refs), two entry names, one content: one decode
    assert len({id(im) for lay in c.layers for im in (lay.image, *lay.identity_refs)}) == 1


def test_too_many_layers_or_refs_are_refused_before_any_decode(tmp_path, monkeypatch):
    calls = count_decodes(monkeypatch)
    for layers, message in (([layer(i) for i in range(40)], "40 layers, more than the limit of 32"),
                            ([layer(0, identity_refs=["images/a.png"] * 200)], "200 identity references")):
        path = write_zip(tmp_path / "p.lcp", {"manifest.json": MANIFEST, "canvas.json": canvas_json(layers),
                                               "images/a.png": png(noise_image(8, 8, 1))})
        with pytest.raises(LimitError, match=message):
            load_project(path)
    assert calls == []


def test_distinct_images_over_the_project_pixel_budget_are_refused(tmp_path):
    members = {"manifest.json": MANIFEST, "canvas.json": canvas_json([layer(i, f"images/{i}.png") for i in range(3)])}
    members.update({f"images/{i}.png": png(noise_image(32, 32, i)) for i in range(3)})
    path = write_zip(tmp_path / "p.lcp", members)
    assert len(load_project(path).layers) == 3
    with pytest.raises(LimitError, match="budget of decoded pixels"):
        load_project(path, limits=replace(LIMITS, max_project_pixels=2 * 32 * 32 + 10))


# ---- 2. placement scale is bounded, and rasterizing costs what the canvas costs ----------------

@pytest.mark.parametrize("scale", [1e5, 1e308, 0.0, -1.0, float("inf")])
def test_placement_scale_outside_the_range_is_refused(scale):
    with pytest.raises(ValueError, match="placement.scale"):
        Placement(scale=scale)


def test_a_project_with_a_huge_scale_is_refused_by_the_cli(tmp_path):
    path = write_zip(tmp_path / "p.lcp", {"manifest.json": MANIFEST, "images/a.png": png(noise_image(8, 8, 1)),
                                           "canvas.json": canvas_json([layer(0, placement={"scale": 1e6})])})
    assert "placement.scale must be in" in refused(path)


@pytest.mark.parametrize("placement", [Placement(x=-5000, y=-3000, scale=256.0),
                                       Placement(x=-32000.5, y=-32000, scale=256.0, rotation=30)])
def test_rasterizing_the_largest_scale_stays_within_a_small_memory_cap(placement):
    lay = Layer(id="a", image=noise_image(256, 256, 1), placement=placement)  # 65536² once scaled: 16 GiB

    def draw():
        out = rasterize_layer(lay, 64, 64)
        assert out.shape == (64, 64, 4) and out[..., 3].any()

    assert run_capped(draw, 512 << 20) == 0


def test_windowed_resampling_matches_the_full_resize():
    img = noise_image(60, 40, 3)
    for p in (Placement(x=-7, y=3, scale=1.7), Placement(x=2, y=-5, scale=0.45)):
        lay = Layer(id="a", image=img, placement=p)
        full = img.resize((round(60 * p.scale), round(40 * p.scale)), Image.Resampling.BICUBIC)
        want = np.zeros((32, 32, 4), np.uint8)
        x0, y0 = int(p.x), int(p.y)
        src = np.asarray(full)[max(0, -y0):, max(0, -x0):][: 32 - max(0, y0), : 32 - max(0, x0)]
        want[max(0, y0) : max(0, y0) + src.shape[0], max(0, x0) : max(0, x0) + src.shape[1]] = src
        assert np.abs(rasterize_layer(lay, 32, 32).astype(int) - want).max() <= 1


# ---- 3. zip entries are checked while they inflate, not from their headers -----------------

def test_bzip2_and_lzma_entries_are_refused(tmp_path):
    members = {"manifest.json": MANIFEST, "canvas.json": canvas_json([]) }
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        path = write_zip(tmp_path / f"p{method}.lcp", members, method)
        with pytest.raises(ProjectFileError, match="compression method"):
            load_project(path)


def _lie_about_sizes(data: bytes, size: int) -> bytes:
    """Rewrite every entry's declared uncompressed size (local headers and the directory)."""
    data = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(sig)
        while at >= 0:
            data[at + offset : at + offset + 4] = struct.pack("<I", size)
            at = data.find(sig, at + 4)
    return bytes(data)


def test_an_entry_that_inflates_past_its_declared_size_is_refused(tmp_path):
    buf = io.BytesIO()
    write_zip(buf, {"manifest.json": MANIFEST, "canvas.json": canvas_json([layer(0)]),
                    "images/a.png": b"\0" * (8 << 20)})
    path = tmp_path / "lying.lcp"
    path.write_bytes(_lie_about_sizes(buf.getvalue(), 100))
    with pytest.raises(CanvasError):
        load_project(path)
    refused(path)


def test_entries_are_counted_while_inflating(tmp_path):
    members = {"manifest.json": MANIFEST, "canvas.json": canvas_json([layer(0, "images/a.png"),
                                                                       layer(1, "images/b.png")])}
    members.update({"images/a.png": png(noise_image(64, 64, 1)), "images/b.png": png(noise_image(64, 64, 2))})
    path = write_zip(tmp_path / "p.lcp", members)
    size = max(len(v) for v in members.values())
    with pytest.raises(LimitError, match="inflate to more than"):
        load_project(path, limits=replace(LIMITS, max_unpacked_bytes=size + 2000))
    with pytest.raises(LimitError):
        load_project(path, limits=replace(LIMITS, max_member_bytes=1000))


def test_a_huge_zip_directory_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    path = write_zip(tmp_path / "p.lcp", [("manifest.json", MANIFEST), *((f"j/{k}", b"") for k in range(600))])
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("the directory was parsed"))
    with pytest.raises(LimitError, match="601 entries, more than the limit of 512"):
        load_project(path)


# ---- 4. a corrupt container is a clean refusal, never a traceback ----------------------------

def _corruptions():
    base = example_path().read_bytes()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        info = zf.getinfo("images/p0.png")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    bad_crc = bytearray(base)
    bad_crc[start + info.compress_size // 2] ^= 0xFF
    encrypted = bytearray(base)
    at = encrypted.find(b"PK\x01\x02")
    encrypted[at + 8] |= 1
    cut_stream = bytearray(base)
    cut_stream[start : start + 8] = b"\xff" * 8  # an invalid deflate block
    return {"bad CRC / deflate data": bytes(bad_crc), "encrypted": bytes(encrypted),
            "invalid deflate block": bytes(cut_stream), "truncated": base[: len(base) // 2],
            "end cut off": base[:-10], "empty": b""}


@pytest.mark.parametrize("name", list(_corruptions()))
def test_corrupt_containers_are_refused_with_exit_code_2(tmp_path, name):
    path = tmp_path / "bad.lcp"
    path.write_bytes(_corruptions()[name])
    with pytest.raises(CanvasError):
        load_project(path)
    refused(path)


def test_duplicate_entries_are_refused(tmp_path):
    members = [("manifest.json", MANIFEST), ("canvas.json", canvas_json([])), ("canvas.json", canvas_json([]))]
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = write_zip(tmp_path / "dup.lcp", members)
    with pytest.raises(ProjectFileError, match="appears more than once"):
        load_project(path)


# ---- 8. sizes and numbers are refused before anything is rasterized --------------------------

@pytest.mark.parametrize("raw, message", [
    ('{"width": 100000, "height": 100000, "layers": []}', "outside 1..4096"),
    ('{"width": 1000000000000000000000000000000, "height": 64, "layers": []}', "outside 1..4096"),
    ('{"width": ' + "9" * 5000 + ', "height": 64, "layers": []}', "not valid JSON"),
    ('{"width": 64, "height": 64, "layers": ' + "[" * 100_000 + "]" * 100_000 + "}", "not valid JSON"),
    ('{"width": 64, "height": 64, "layers": [], "prompt": ' + "[" * 40 + "]" * 40 + "}", "nests deeper"),
])
def test_hostile_sizes_and_numbers_are_refused_without_rasterizing(tmp_path, monkeypatch, raw, message):
    monkeypatch.setattr("layercraft.canvas.validate.rasterize_layer", lambda *a: pytest.fail("rasterized"))
    path = write_zip(tmp_path / "p.lcp", {"manifest.json": MANIFEST, "canvas.json": raw})
    with pytest.raises(CanvasError, match=message):
        load_project(path)
    refused(path)


def test_validate_refuses_an_oversized_canvas_before_rasterizing(monkeypatch):
    monkeypatch.setattr("layercraft.canvas.validate.rasterize_layer", lambda *a: pytest.fail("rasterized"))
    big = Canvas.model_construct(width=2**31, height=16, layers=[Layer(id="a", image=noise_image(8, 8, 1))],
                                 background=None, prompt="", version=1)
    with pytest.raises(LimitError, match="maximum side"):
        validate_canvas(big)
    with pytest.raises(CanvasError, match="stride must be a positive integer"):
        validate_canvas(Canvas(width=16, height=16), stride=0)


# ---- 9. the command line: every refusal one line, exit code 2, before any work ----------------

def test_canvas_info_on_tiny_canvases_and_zero_options(tmp_path):
    path = save_project(Canvas(width=4, height=4, layers=[Layer(id="a", image=noise_image(4, 4, 1))]),
                        tmp_path / "tiny.lcp")
    res = CliRunner().invoke(app, ["canvas", "info", str(path)])
    assert res.exit_code == 0 and "no token counts" in res.output, res.output
    for args in (["canvas", "info", str(path), "--token-px", "0"], ["canvas", "validate", str(path), "--stride", "0"],
                 ["canvas", "render", str(path), "--stride", "0"], ["canvas", "info", str(path), "--scheme", "bogus"]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1, (args, res.output)


@pytest.mark.parametrize("name", ["\ud800", "bad\udfffname"])
def test_lone_surrogates_in_text_are_refused(tmp_path, name):
    path = tmp_path / "s.lcp"
    text = canvas_json([layer(0, name=name)]).encode("utf-8", "surrogatepass")  # json.dumps escapes them: \\ud800
    write_zip(path, {"manifest.json": MANIFEST, "canvas.json": text, "images/a.png": png(noise_image(8, 8, 1))})
    assert "not valid Unicode text" in refused(path)
    with pytest.raises(ValueError, match="not valid Unicode text"):
        Layer(id="a", image=noise_image(4, 4, 1), name=name)


@pytest.mark.parametrize("args, message", [
    (["--true-cfg", "nan"], "--true-cfg must be a finite number"),
    (["--canvas-cfg", "inf"], "--canvas-cfg must be a finite number"),
    (["--guidance", "-1"], "--guidance must be in"),
    (["--scheme", "bogus"], "unknown scheme 'bogus'"),
    (["--seed", str(2**64)], "--seed"),
    (["--steps", "100000"], "--steps"),
    (["--out", "x.unknownext"], "cannot write images with extension '.unknownext'"),
])
def test_generate_refuses_bad_options_before_loading_a_model(tmp_path, monkeypatch, args, message):
    from layercraft.pipelines import loading

    monkeypatch.setattr(loading, "load_pipeline", lambda *a, **k: pytest.fail("the model was loaded"))
    res = CliRunner().invoke(app, ["generate", str(example_path()), *args])
    assert res.exit_code == 2 and message in res.stderr, res.output
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_generate_refuses_an_invalid_project_before_loading_a_model(tmp_path, monkeypatch):
    from layercraft.pipelines import loading

    monkeypatch.setattr(loading, "load_pipeline", lambda *a, **k: pytest.fail("the model was loaded"))
    bad = tmp_path / "bad.lcp"
    bad.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    for project in (bad, save_project(Canvas(width=24, height=24), tmp_path / "odd.lcp")):
        res = CliRunner().invoke(app, ["generate", str(project)])
        assert res.exit_code == 2 and res.stderr.startswith("error: "), res.output
        assert len(res.stderr.strip().splitlines()) == 1


# ---- 12. strict ids and types ---------------------------------------------------------------

@pytest.mark.parametrize("bad", ["ab\n", "a b", "", "x" * 65, "é"])
def test_layer_ids_must_match_in_full(tmp_path, bad):
    with pytest.raises(ValueError, match="layer id"):
        Layer(id=bad, image=noise_image(4, 4, 1))
    raw = json.dumps({"width": 64, "height": 64, "layers": [{"id": bad, "image": "images/a.png"}]})
    path = write_zip(tmp_path / "p.lcp", {"manifest.json": MANIFEST, "images/a.png": png(noise_image(8, 8, 1)),
                                           "canvas.json": raw})
    with pytest.raises(CanvasError, match="layer id"):
        load_project(path)


@pytest.mark.parametrize("field, value", [("placement", {"x": True}), ("placement", {"scale": "1"}),
                                          ("placement", {"flip_h": 1}), ("locked", "true"), ("visible", 1),
                                          ("placed", "1")])
def test_numbers_and_booleans_are_strict_in_project_files(tmp_path, field, value):
    path = write_zip(tmp_path / "p.lcp", {"manifest.json": MANIFEST, "images/a.png": png(noise_image(8, 8, 1)),
                                           "canvas.json": canvas_json([layer(0, **{field: value})])})
    with pytest.raises(CanvasError, match="is invalid"):
        load_project(path)


@pytest.mark.parametrize("width", [True, "64", 64.0])
def test_canvas_size_and_version_are_strict_integers(tmp_path, width):
    path = write_zip(tmp_path / "p.lcp", {"manifest.json": MANIFEST, "canvas.json": canvas_json([], width=width)})
    with pytest.raises(CanvasError, match="width"):
        load_project(path)
    path = write_zip(tmp_path / "v.lcp", {"manifest.json": json.dumps({"format": "layercraft-project",
                                                                       "version": True}),
                                           "canvas.json": canvas_json([])})
    with pytest.raises(CanvasError, match="no integer format version"):
        load_project(path)
