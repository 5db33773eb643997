from typer.testing import CliRunner

from layercraft.app.cli import app
from layercraft.app.model import pick_device, pipeline_loader


def test_studio_refuses_a_missing_model_folder(tmp_path):
    result = CliRunner().invoke(app, ["--model", str(tmp_path / "nope"), "--port", "0"])
    assert result.exit_code == 1
    assert f"error: model folder not found: {tmp_path / 'nope'}" in result.output


def test_studio_help_lists_the_options():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for option in ("--model", "--port", "--host", "--device", "--data-dir", "--queue-size", "--timeout"):
        assert option in result.output


def test_the_model_is_not_loaded_until_asked(tmp_path):
    load = pipeline_loader(tmp_path / "model", "cpu")  # nothing imported or read yet
    assert callable(load)
    assert pick_device("cpu") == "cpu" and pick_device("auto") in {"cpu", "cuda"}
