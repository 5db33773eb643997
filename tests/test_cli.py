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
    assert res.exit_code == 2 and "format is None" in res.stderr
    res = runner.invoke(app, ["canvas", "validate", str(example_path()), "--stride", "96"])
    assert res.exit_code == 2 and "not a multiple of the model stride 96" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error: ")


def test_bundled_example_matches_its_builder():
    from layercraft.canvas import load_project
    from layercraft.examples import four_friends

    assert load_project(example_path()).model_dump(mode="json") == four_friends().model_dump(mode="json")


def test_demo_generates_the_bundled_canvas_with_the_committed_embedded_model(tmp_path):
    import numpy as np
    from PIL import Image

    from layercraft.pipelines.loading import embedded_card, load_embedded

    assert load_embedded().transformer.config.prediction_type == "preconditioned"
    assert embedded_card()["steps"] > 0
    res = runner.invoke(app, ["demo", "--out", str(tmp_path), "--steps", "2"])
    assert res.exit_code == 0, res.output
    out = Image.open(tmp_path / "output.png")
    sheet = np.asarray(Image.open(tmp_path / "sheet.png"))
    assert out.size == (128, 128) and sheet.shape == (128, 256, 3)
    assert np.array_equal(sheet[:, 128:], np.asarray(out.convert("RGB")))  # collage | output
    assert "loaded in" in res.output and "image in" in res.output
    assert "× 1 pass (distilled guidance)" in res.output  # the demo runs the bundled one-pass student


def test_demo_takes_its_settings_from_the_models_card(tmp_path):
    from layercraft.pipelines.loading import recommended_settings

    student, teacher = recommended_settings("default-distilled"), recommended_settings("default")
    assert student["num_inference_steps"] < teacher["num_inference_steps"]
    res = runner.invoke(app, ["demo", "--out", str(tmp_path), "--model", "default"])
    assert res.exit_code == 0, res.output
    assert f"({teacher['num_inference_steps']} steps, true CFG" in res.output  # three passes: no "1 pass"


def test_generate_and_demo_refuse_an_unknown_model_in_one_line(tmp_path):
    runner = CliRunner()
    for args in (["generate", str(example_path()), "--model", str(tmp_path / "none"), "--out", str(tmp_path / "g.png")],
                 ["demo", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "demo")]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, res.output
        assert res.output.splitlines()[-1].startswith("error: model ") and "neither" in res.output, res.output
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "demo" / "output.png").exists()
