"""The command line stays light: help and the canvas commands never import the model stack."""

import json
import subprocess
import sys

import typer
from typer.testing import CliRunner

from layercraft.cli import LAZY_GROUPS, app
from layercraft.examples import example_path

HEAVY = ("torch", "diffusers", "transformers", "scipy", "skimage")


def loaded_after(*argv: str) -> dict:
    """Run `layercraft ARGV` in a fresh interpreter: its exit code and which heavy packages it imported."""
    code = ("import json, sys\nfrom typer.testing import CliRunner\nfrom layercraft.cli import app\n"
            f"r = CliRunner().invoke(app, {list(argv)!r})\n"
            f"print(json.dumps({{'code': r.exit_code, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_and_canvas_commands_import_no_model_stack(tmp_path):
    assert loaded_after("--help") == {"code": 0, "heavy": []}
    assert loaded_after("canvas", "validate", str(example_path())) == {"code": 0, "heavy": []}
    got = loaded_after("canvas", "render", str(example_path()), "--out", str(tmp_path / "r"))
    assert got == {"code": 0, "heavy": []} and (tmp_path / "r").is_dir()


def test_a_lazy_group_runs_as_its_module_and_lists_the_same_help():
    runner = CliRunner()
    for name, (target, help_text) in LAZY_GROUPS.items():
        module, _, attr = target.partition(":")
        real = typer.main.get_group(getattr(__import__(module, fromlist=[attr]), attr))
        assert real.help == help_text, name
        shown = runner.invoke(app, [name, "--help"])
        assert shown.exit_code == 0 and all(c in shown.output for c in real.list_commands(None)), shown.output


def test_eval_refuses_unknown_suites_and_methods_in_one_line_before_loading_a_model(tmp_path):
    runner = CliRunner()
    for args in (["--suite", "no-such-suite"], ["--method", "no-such-method"], ["--suite", str(tmp_path / "x.jsonl")]):
        refused = runner.invoke(app, ["eval", "run", *args, "--model", str(tmp_path / "no-model"),
                                      "--out", str(tmp_path / "run")])
        assert refused.exit_code == 2, refused.output
        assert refused.output.startswith("error: ") and refused.output.count("\n") == 1, refused.output


def test_loading_the_pipelines_prints_no_torchvision_notice():
    code = "import layercraft.pipelines.layered_canvas"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "torchvision" not in out.stderr + out.stdout
