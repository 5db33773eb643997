"""Sizes a model was trained at are part of its card; generating at another size warns."""

import json

from typer.testing import CliRunner

from layercraft.canvas import save_project
from layercraft.pipelines import loading
from layercraft.pipelines.cli import app
from lc_canvases import canvas


def test_the_embedded_card_lists_the_size_its_training_config_used():
    import yaml

    card = loading.embedded_card()
    trained = yaml.safe_load(card["config"])["task_args"]["size"]
    assert loading.trained_sizes("default") == [(trained, trained)] == [(128, 128)]
    assert loading.trained_sizes("tiny-test") == []
    assert loading.size_warning("default", 128, 128) is None
    warning = loading.size_warning("default", 256, 256)
    assert "256×256" in warning and "128×128" in warning and "\n" not in warning
    assert loading.size_warning("tiny-test", 256, 256) is None  # no card, no claim


def test_a_folder_card_lists_sizes(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"sizes": [[64, 64], [96, 64]]}))
    assert loading.trained_sizes(tmp_path) == [(64, 64), (96, 64)]
    assert loading.size_warning(tmp_path, 96, 64) is None and "64×64, 96×64" in loading.size_warning(tmp_path, 32, 32)
    (tmp_path / "model.json").write_text("{broken")
    assert loading.trained_sizes(tmp_path) == []


def test_generate_warns_at_an_untrained_size(tmp_path, monkeypatch):
    project = tmp_path / "p.zip"
    save_project(canvas(2), project)  # 32×32
    monkeypatch.setattr(loading, "trained_sizes", lambda m: [(64, 64)])
    args = [str(project), "--model", "tiny-test", "--steps", "1", "--out", str(tmp_path / "a.png")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0 and "warning: 32×32 is not a size" in r.output and "64×64" in r.output
    monkeypatch.setattr(loading, "trained_sizes", lambda m: [(32, 32)])
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0 and "warning" not in r.output
