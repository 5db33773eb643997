import zipfile

from typer.testing import CliRunner

from layercraft.cli import app
from layercraft.examples import example_path

runner = CliRunner()


def test_canvas_info_validate_render_on_the_bundled_example(tmp_path):
    path = str(example_path())
    res = runner.invoke(app, ["canvas", "info", path])
    assert res.exit_code == 0, res.output
    assert "p1" in res.output and "🔒" in res.output and "condition tokens" in res.output
    res = runner.invoke(app, ["canvas", "validate", path])
    assert res.exit_code == 0 and "OK" in res.output
    res = runner.invoke(app, ["canvas", "render", path, "--out", str(tmp_path), "--layers"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "collage.png").exists() and (tmp_path / "preview.png").exists()
    assert (tmp_path / "layers" / "p1.png").exists()


def test_bad_project_gives_error_and_exit_code(tmp_path):
    bad = tmp_path / "bad.lcp"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("manifest.json", "{}")
    res = runner.invoke(app, ["canvas", "validate", str(bad)])
    assert res.exit_code == 1 and "format is None" in res.output
    res = runner.invoke(app, ["canvas", "validate", str(example_path()), "--stride", "96"])
    assert res.exit_code == 1 and "not a multiple of the model stride 96" in res.output


def test_bundled_example_matches_its_builder():
    from layercraft.canvas import load_project
    from layercraft.examples import four_friends

    assert load_project(example_path()).model_dump(mode="json") == four_friends().model_dump(mode="json")
