"""`layercraft vision …` and `layercraft canvas from-photos` end to end, bad input included."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner
from vision_photos import grace_path

from layercraft.canvas import landmarks_on_canvas, load_project
from layercraft.cli import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_faces_prints_json_in_the_photos_own_pixels(astronaut, tmp_path):
    path = tmp_path / "astronaut.png"
    astronaut.resize((1024, 1024), Image.Resampling.LANCZOS).save(path)
    res = _run("vision", "faces", path, "--max-side", 512, "--crops", tmp_path / "crops")  # detected at half size
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert (data["width"], data["height"]) == (1024, 1024)
    (face,) = data["faces"]
    assert len(face["landmarks"]) == 5 and 0.9 < face["score"] <= 1.0
    x0, y0, x1, y1 = face["box"]
    assert 300 < x0 < x1 < 600 and 80 < y0 < y1 < 400  # twice the 512 px astronaut's face box
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in face["landmarks"])
    crop = Image.open(tmp_path / "crops" / "face-0.png")
    assert crop.size == (112, 112)
    assert not (tmp_path / "crops" / "face-1.png").exists()


def test_no_face_truncated_and_missing_files_exit_2_with_one_line(no_face, astronaut, tmp_path):
    coffee = tmp_path / "coffee.png"
    no_face.save(coffee)
    cut = tmp_path / "cut.jpg"
    astronaut.save(cut, quality=90)
    cut.write_bytes(cut.read_bytes()[:4000])
    for args, message in [(("vision", "faces", coffee), "no face found"),
                          (("vision", "faces", cut), "truncated"),
                          (("vision", "compare", coffee, grace_path()), "no face found"),
                          (("vision", "cutout", tmp_path / "nope.png", "--out", tmp_path / "o.png"), "not found"),
                          (("canvas", "from-photos", coffee, "--out", tmp_path / "x.lcp"), "no face found")]:
        res = _run(*args)
        assert res.exit_code == 2, (args, res.output)
        assert message in res.stderr and "Traceback" not in res.output
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp_path / "x.lcp").exists() and not (tmp_path / "o.png").exists()


def test_people_writes_one_rgba_png_per_person_and_people_json(astronaut, grace, tmp_path):
    photo = Image.new("RGB", (1024, 600), (200, 200, 200))
    photo.paste(astronaut, (0, 88))
    photo.paste(grace, (512, 0))
    path = tmp_path / "two.jpg"
    photo.save(path, quality=92)
    out = tmp_path / "people"
    res = _run("vision", "people", path, "--out", out)
    assert res.exit_code == 0, res.output
    data = json.loads((out / "people.json").read_text())
    assert len(data["people"]) == 2
    for k, entry in enumerate(data["people"]):
        img = Image.open(out / f"person-{k}.png")
        assert img.mode == "RGBA" and img.size == photo.size
        a = np.asarray(img)[..., 3]
        assert entry["mask_area"] == int((a >= 128).sum()) > 10000
        fx0, fy0, fx1, fy1 = entry["face_box"]
        assert a[int((fy0 + fy1) / 2), int((fx0 + fx1) / 2)] > 200
    centres = sorted((e["face_box"][0] + e["face_box"][2]) / 2 for e in data["people"])
    assert centres[0] < 512 < centres[1]  # one on each half


def test_cutout_and_compare(astronaut, tmp_path):
    a = tmp_path / "a.png"
    astronaut.save(a)
    b = tmp_path / "b.jpg"
    astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((420, 420)).save(b, quality=90)
    res = _run("vision", "compare", a, b)
    assert res.exit_code == 0 and res.stdout.strip().endswith(": same"), res.output
    res = _run("vision", "compare", a, grace_path())
    assert res.exit_code == 0 and res.stdout.strip().endswith(": different"), res.output
    res = _run("vision", "cutout", a, "--out", tmp_path / "cut.png")
    assert res.exit_code == 0, res.output
    cut = Image.open(tmp_path / "cut.png")
    assert cut.mode == "RGBA" and cut.size == astronaut.size and np.asarray(cut)[0, 0, 3] < 40


def test_canvas_from_photos_with_a_prior(astronaut, grace, tmp_path):
    prior = Image.new("RGB", (800, 400), (120, 140, 160))
    prior.paste(grace.resize((256, 300), Image.Resampling.LANCZOS), (40, 80))
    prior.paste(astronaut.resize((300, 300), Image.Resampling.LANCZOS), (460, 100))
    paths = []
    for name, img in (("astronaut.png", astronaut), ("grace.png", grace), ("prior.png", prior)):
        img.save(tmp_path / name)
        paths.append(tmp_path / name)
    out = tmp_path / "scene.lcp"
    # the astronaut goes on the right prior face, grace on the left: --order names them
    res = _run("canvas", "from-photos", paths[0], paths[1], "--prior", paths[2], "--order", "1,0", "--out", out,
               "--prompt", "two friends", "--lock", "1")
    assert res.exit_code == 0, res.output
    canvas = load_project(out)
    assert canvas.prompt == "two friends" and len(canvas.layers) == 2
    by_name = {layer.name: layer for layer in canvas.layers}
    assert by_name["grace.png"].locked and not by_name["astronaut.png"].locked
    assert landmarks_on_canvas(by_name["astronaut.png"])[:, 0].mean() > canvas.width / 2
    assert landmarks_on_canvas(by_name["grace.png"])[:, 0].mean() < canvas.width / 2
    res = _run("canvas", "validate", out)
    assert res.exit_code == 0, res.output
    res = _run("canvas", "from-photos", paths[0], paths[1], "--out", tmp_path / "y.lcp", "--max-layers", "1")
    assert res.exit_code == 2 and "more than the limit of 1" in res.stderr
