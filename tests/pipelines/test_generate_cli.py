from lc_canvases import canvas
from PIL import Image
from typer.testing import CliRunner

from layercraft.canvas import save_project
from layercraft.pipelines.cli import app


def test_generate_writes_an_image(tmp_path):
    project = tmp_path / "p.zip"
    save_project(canvas(2), project)
    out = tmp_path / "img.png"
    result = CliRunner().invoke(app, [str(project), "--model", "tiny-test", "--steps", "1", "--out", str(out),
                                      "--scheme", "anyphoto"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (32, 32)
