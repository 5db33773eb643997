"""`layercraft eval` refuses what it cannot use in one line with exit code 2."""

from typer.testing import CliRunner

from layercraft.cli import app


def refused(*args: str) -> str:
    res = CliRunner().invoke(app, ["eval", *args])
    assert res.exit_code == 2 and res.output.startswith("error: ") and res.output.count("\n") == 1, res.output
    return res.output


def test_summary_and_report_of_a_folder_without_records(tmp_path):
    assert "no records" in refused("summary", str(tmp_path))
    assert "no records" in refused("report", str(tmp_path), "--out", str(tmp_path / "report"))
    assert not (tmp_path / "report").exists() and not (tmp_path / "summary.csv").exists()


def test_an_unknown_model_is_refused_before_any_case_runs(tmp_path):
    said = refused("run", "--model", str(tmp_path / "no-model"), "--count", "1", "--out", str(tmp_path / "run"))
    assert "--model" in said and "neither" in said
    assert not (tmp_path / "run").exists()
