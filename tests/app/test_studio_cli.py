from typer.testing import CliRunner

from layercraft.app.cli import app
from layercraft.app.model import pipeline_loader


def test_studio_refuses_a_missing_model_folder(tmp_path):
    result = CliRunner().invoke(app, ["--model", str(tmp_path / "nope"), "--port", "0"])
    assert result.exit_code == 2
    assert f"error: model folder not found: {tmp_path / 'nope'}" in result.output


def test_studio_help_lists_the_options():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for option in ("--model", "--port", "--host", "--device", "--dtype", "--offload", "--data-dir", "--queue-size",
                   "--timeout"):
        assert option in result.output


def test_the_model_is_not_loaded_until_asked(tmp_path):
    load = pipeline_loader(tmp_path / "model", "cpu")  # nothing imported or read yet
    assert callable(load)


def test_new_projects_start_from_the_models_measured_settings(tmp_path):
    from studio_helpers import new_project, studio_client

    from layercraft.app.cli import studio_settings
    from layercraft.cli import demo
    from layercraft.pipelines.loading import recommended_settings

    # the README's main command takes its settings from the model card (tests/test_cli.py runs it)
    params = {n: p.default.default for n, p in __import__("inspect").signature(demo).parameters.items()}
    assert all(params[k] is None for k in ("steps", "cfg", "canvas_cfg", "lock_blend"))
    assert set(recommended_settings("default")) == {"num_inference_steps", "true_cfg_scale", "canvas_cfg_scale",
                                                    "lock_blend"}
    assert studio_settings("default-distilled")["steps"] == recommended_settings("default-distilled")[
        "num_inference_steps"]
    assert studio_settings("tiny-test") == {}  # registry specs carry none
    settings = studio_settings("default")
    assert settings == {"steps": 10, "true_cfg": 3.0, "canvas_cfg": 2.0, "lock_blend": 0.75}
    with studio_client(tmp_path, new_project_settings=settings) as client:
        project = new_project(client)
        assert {k: project["settings"][k] for k in settings} == settings
        assert project["settings"]["seed"] == 0 and project["settings"]["scheme"] == "layercomposer"
    with studio_client(tmp_path / "plain") as client:
        assert new_project(client)["settings"]["canvas_cfg"] == 1.0


def test_studio_refuses_a_bad_device_dtype_or_offload_on_cpu():
    for bad, word in ((["--dtype", "int3"], "dtype"), (["--device", "cpu", "--offload"], "accelerator")):
        result = CliRunner().invoke(app, ["--port", "0", *bad])
        assert result.exit_code == 2 and word in result.output, result.output
