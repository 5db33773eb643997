"""`layercraft generate --upscale 4`."""

from PIL import Image
from typer.testing import CliRunner

from layercraft.canvas import Canvas, save_project
from layercraft.pipelines.cli import app


def test_generate_upscales_the_result_and_refuses_other_factors(tmp_path):
    project = tmp_path / "p.zip"
    save_project(Canvas(width=16, height=16, prompt="a room"), project)
    out = tmp_path / "big.png"
    base = [str(project), "--model", "tiny-test", "--steps", "1", "--dtype", "float32"]
    r = CliRunner().invoke(app, [*base, "--out", str(out), "--upscale", "4", "--upscaler", "anime"])
    assert r.exit_code == 0, r.output
    assert Image.open(out).size == (64, 64) and "upscaled ×4, anime" in r.output
    for bad, word in ((["--upscale", "2"], "×4"), (["--upscale", "4", "--upscaler", "oil"], "unknown upscaler")):
        r = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "x.png"), *bad])
        assert r.exit_code == 2 and word in r.output, r.output
        assert not (tmp_path / "x.png").exists()


def test_a_canvas_too_large_to_upscale_is_refused_before_generating(tmp_path):
    project = tmp_path / "big.zip"
    save_project(Canvas(width=2064, height=2064, prompt="a hall"), project)
    r = CliRunner().invoke(app, [str(project), "--model", "tiny-test", "--upscale", "4", "--out",
                                 str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "4260096 pixels" in r.output and "at most 4194304" in r.output, r.output
    assert not (tmp_path / "x.png").exists()
