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


def test_generate_lock_blend_holds_the_locked_layer(tmp_path):
    import numpy as np

    from layercraft.canvas.raster import composite

    cv = canvas(2, locked=(0,))
    project = tmp_path / "p.zip"
    save_project(cv, project)
    outs = {}
    for blend in ("0", "1"):
        outs[blend] = tmp_path / f"img{blend}.png"
        result = CliRunner().invoke(app, [str(project), "--model", "tiny-test", "--steps", "2", "--out",
                                          str(outs[blend]), "--lock-blend", blend])
        assert result.exit_code == 0, result.output
    want = np.asarray(composite(cv), np.int16)[4:8, 4:8]  # inside the locked disc, in front of nothing
    err = {b: np.abs(np.asarray(Image.open(p), np.int16)[4:8, 4:8] - want).max() for b, p in outs.items()}
    assert err["1"] <= 1 < err["0"]
    bad = CliRunner().invoke(app, [str(project), "--model", "tiny-test", "--lock-blend", "2"])
    assert bad.exit_code != 0 and "lock-blend" in bad.output
