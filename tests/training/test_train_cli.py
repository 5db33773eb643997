"""`layercraft train` refuses a config it cannot use in one line with exit code 2, before setting anything up."""

import pytest
from typer.testing import CliRunner

from layercraft.cli import app

CANVAS = "task: canvas\ntask_args: {model: tiny-test, size: 32}\nmax_steps: 1\n"


@pytest.mark.parametrize(("text", "overrides", "says"), [
    (None, [], "no such file"),
    ("task: [canvas\n", [], "while parsing"),
    ("- just\n- a list\n", [], "must be a YAML mapping"),
    ("task: no_such_task\n", [], "unknown training task 'no_such_task'"),
    ("task: no_such_module:make\n", [], "No module named 'no_such_module'"),
    (CANVAS, ["max_steps=abc"], "max_steps: Input should be a valid integer"),
    (CANVAS, ["no_such_key=1"], "no_such_key: Extra inputs are not permitted"),
    (CANVAS, ["max_steps"], "must look like key=value"),
    (CANVAS.replace("size: 32", "size: 32, no_such_arg: 1"), [], "task_args: no_such_arg: Extra inputs"),
])
def test_unusable_configs_are_refused_in_one_line(tmp_path, text, overrides, says):
    path = tmp_path / "config.yaml"
    if text is not None:
        path.write_text(text + f"output_dir: {tmp_path / 'run'}\n" if text.startswith("task") else text)
    res = CliRunner().invoke(app, ["train", str(path), *overrides])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: ") and res.output.count("\n") == 1 and says in res.output, res.output
    assert not (tmp_path / "run").exists()  # nothing was written
