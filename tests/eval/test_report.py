import re

from PIL import Image

from layercraft.eval.ablations import ABLATIONS, ablation_rows
from layercraft.eval.backends import Backends
from layercraft.eval.cases import load_cases
from layercraft.eval.methods import get_method, make_generate
from layercraft.eval.plots import by_subjects, plot_vs_subjects
from layercraft.eval.report import write_report
from layercraft.eval.runner import RunOptions, run_method


def test_report_on_a_tiny_world_run(tmp_path):
    run, docs = tmp_path / "run", tmp_path / "docs"
    cases = load_cases("world-1p", count=2) + load_cases("world-2p", count=1)
    for name in ("ground_truth", "collage"):
        m = get_method(name)
        run_method(cases, m, make_generate(m), run, Backends(), opts=RunOptions(progress=False))
    page = write_report(run, docs, max_cases=2).read_text()
    assert (docs / "summary.csv").read_text().count("\n") == 5  # header + 2 methods × 2 suites
    assert "Suite 1P" in page and "Suite 2P" in page and "Ablations" in page
    assert page.index("<td>ground_truth</td>") < page.index("<td>collage</td>")
    # image grid: collage | outputs | ground truth, thumbnails on disk and linked relatively
    imgs = re.findall(r'<img src="([^"]+)"', page)
    assert "images/1P/0001/ground_truth.png" in imgs and "images/2P/0000/canvas_collage.png" in imgs
    for rel in imgs:
        assert (docs / rel).exists()
    assert max(Image.open(docs / "images/1P/0000/collage.png").size) <= 160
    assert "cost_vs_subjects.png" in imgs  # seconds are known without any perception backend
    assert "quality_vs_subjects.png" not in imgs  # no backend → no quality values → no empty plot


def test_plots_and_ablation_table(tmp_path):
    summary = [{"method": "a", "suite": "2P", "sim_gt": 0.5}, {"method": "a", "suite": "1P", "sim_gt": 0.7},
               {"method": "a", "suite": "occlusion", "sim_gt": 0.1}, {"method": "b", "suite": "1P", "sim_gt": None}]
    assert by_subjects(summary, "sim_gt") == {"a": [(1, 0.7), (2, 0.5)]}
    assert plot_vs_subjects(summary, ["sim_gt", "fid"], tmp_path / "q.png", "q").exists()
    assert plot_vs_subjects(summary, ["fid"], tmp_path / "none.png", "x") is None
    rows = ablation_rows([{"method": "layercomposer", "suite": "occlusion", "sim_gt": 0.4, "iou": 0.8}])
    assert len(rows) == 2 * len(ABLATIONS)
    lc = [r for r in rows if r["method"] == "layercomposer" and r["suite"] == "occlusion"][0]
    assert lc["ran"] and lc["metrics"]["sim_gt"] == 0.4 and lc["metrics"]["fid"] is None
    assert not [r for r in rows if r["method"] == "kontext_collage"][0]["ran"]


def test_bench_runs_each_runnable_ablation_row_on_its_own_suite():
    from layercraft.eval.cli import ALL_SUITES, ablation_plan
    from layercraft.eval.methods import METHODS

    plan = ablation_plan()
    assert set(plan) <= set(ALL_SUITES)
    for a in ABLATIONS:
        for name in (a.baseline, a.variant):
            suite = f"world-{a.suite.lower()}"
            # a switch row runs where its claim is measured; a separately trained variant is never guessed
            assert (name in plan.get(suite, [])) == (name in METHODS)
    assert all(len(v) == len(set(v)) for v in plan.values())


def test_paired_delta_uses_shared_cases_and_brackets_the_difference():
    from layercraft.eval.ablations import paired_delta

    def rec(method, case, sim, iou):
        return {"method": method, "suite": "2P", "case": case, "layout": {"iou": iou},
                "identity": {"per_subject": {"sim_gt": [sim, None], "cp": [0.0]}}}

    records = [rec("a", f"{k:04d}", 0.5, 0.5) for k in range(10)]
    records += [rec("b", f"{k:04d}", 0.5 + 0.1 + 0.01 * (k % 3), 0.5) for k in range(8)]  # 8 shared cases
    records.append(rec("b", "0099", 0.0, 0.0))  # no baseline for this case: left out
    d = paired_delta(records, "2P", "a", "b", "sim_gt")
    assert d["n"] == 8 and 0.1 <= d["lo"] <= d["delta"] <= d["hi"] <= 0.12
    same = paired_delta(records, "2P", "a", "b", "iou")
    assert same["delta"] == same["lo"] == same["hi"] == 0.0
    assert paired_delta(records, "2P", "a", "missing", "sim_gt") is None
