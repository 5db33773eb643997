import json

import numpy as np
import pytest
from eval_fakes import BlobDetector, ColourAttributes, MeanColourIdentity, MeanFeatures, write_cards_suite
from PIL import Image

from layercraft.eval.backends import Backends
from layercraft.eval.cases import load_cases
from layercraft.eval.methods import get_method, make_generate
from layercraft.eval.records import load_records
from layercraft.eval.runner import RunOptions, run_method, shard_cases
from layercraft.eval.summary import summarize, write_csv


@pytest.fixture
def cards(tmp_path):
    return load_cases(str(write_cards_suite(tmp_path / "suite")))


def _backends():
    return Backends(MeanColourIdentity(), BlobDetector(), ColourAttributes(), MeanFeatures())


def _run(cases, name, out, **kw):
    m = get_method(name)
    return run_method(cases, m, make_generate(m), out, _backends(), opts=RunOptions(progress=False, **kw))


def test_reference_rows_hit_the_known_bounds(cards, tmp_path):
    out = tmp_path / "run"
    assert _run(cards, "ground_truth", out) == 3
    assert _run(cards, "collage", out) == 3
    rows = {r["method"]: r for r in summarize(load_records(out))}
    gt, col = rows["ground_truth"], rows["collage"]
    assert gt["sim_gt"] == pytest.approx(1.0) and gt["cp"] == pytest.approx(-1.0, abs=1e-6)
    assert col["sim_ref"] == pytest.approx(1.0) and col["cp"] == pytest.approx(1.0, abs=1e-6)
    assert col["ap"] == pytest.approx(1.0) and col["iou"] == pytest.approx(1.0)  # the collage is the layout
    assert gt["ap75"] < 1.0 < gt["ap50"] + 1e-9  # GT cards are shifted by 2 px
    assert gt["missing_rate"] == 0 and gt["acc_pose"] == 1.0 and gt["acc_kind"] == 1.0
    assert gt["fid"] == pytest.approx(0.0, abs=1e-6) and col["fid"] > 1.0
    # case c0 locks p0: the collage reproduces it exactly, the darker GT does not (but does after gain)
    recs = {(r["method"], r["case"]): r for r in load_records(out)}
    assert recs[("collage", "c0")]["lock"]["layers"]["p0"]["psnr"] == "inf"
    g = recs[("ground_truth", "c0")]["lock"]["layers"]["p0"]
    assert g["psnr"] < 30 and g["psnr_gain"] > g["psnr"]
    assert recs[("collage", "c1")]["variation"]["any"] == 0.0
    write_csv(list(rows.values()), out / "summary.csv")
    header = (out / "summary.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["method", "suite", "n_cases", "n_subjects"]


def test_resume_skips_done_cases_and_ignores_a_torn_line(cards, tmp_path):
    out = tmp_path / "run"
    calls = []

    def gen(case):
        calls.append(case.id)
        return Image.fromarray(case.target)

    m = get_method("ground_truth")
    opts = RunOptions(progress=False)
    run_method(cards[:2], m, gen, out, Backends(), opts=opts)
    with open(out / "records.jsonl", "a") as f:
        f.write('{"method": "ground_truth", "suite": "cards", "ca')  # killed mid-write
    run_method(cards, m, gen, out, Backends(), opts=opts)
    assert calls == ["c0", "c1", "c2"]
    recs = load_records(out)
    assert sorted(r["case"] for r in recs) == ["c0", "c1", "c2"]
    assert recs[0]["identity"] == {"skipped": "no identity backend"}


def test_shards_partition_the_cases_and_merge(cards, tmp_path):
    out = tmp_path / "run"
    ids = [[c.id for c in shard_cases(cards, (i, 2))] for i in range(2)]
    assert sorted(ids[0] + ids[1]) == ["c0", "c1", "c2"] and not set(ids[0]) & set(ids[1])
    for i in range(2):
        _run(cards, "collage", out, shard=(i, 2))
    assert {p.name for p in out.glob("records*.jsonl")} == {"records.0-of-2.jsonl", "records.1-of-2.jsonl"}
    assert len(load_records(out)) == 3
    assert _run(cards, "collage", out, shard=(0, 1)) == 0  # everything done, whichever shard did it


def test_world_suite_cases(tmp_path):
    (case,) = load_cases("world-lock", count=1)
    assert case.suite == "lock" and case.n_subjects == 3 and case.boxes.shape == (3, 4)
    regions = case.lock_regions()
    locked = [s for s in case.subjects if case.canvas.layer(s).locked]
    assert len(locked) == 1 and set(regions) == {"bg", locked[0]}
    # the ground truth reproduces a locked subject exactly: PSNR = ∞ inside its alpha
    from layercraft.eval.scoring import score_lock

    lk = score_lock(case, case.target)
    assert lk["layers"][locked[0]]["psnr"] == "inf"
    assert sum(r is None for r in case.truth["reference_people"]) == 1
    (c4,) = load_cases("world-4p", count=1)
    # the canvas boxes are where the target has its people (unlocked layers are placed on them)
    from layercraft.eval.matching import iou_matrix

    assert np.diag(iou_matrix(c4.boxes, c4.target_boxes)).min() > 0.5
    assert json.dumps(c4.truth)  # JSON-able


def test_parse_shard():
    from layercraft.eval.runner import parse_shard

    assert parse_shard("1/3") == (1, 3)
    assert parse_shard("auto") == (0, 1)  # a plain process: accelerate reports rank 0 of 1
    with pytest.raises(ValueError):
        parse_shard("3/3")


def test_world_cases_prompt_like_the_canvas_training_data():
    from layercraft.eval.cases import load_cases

    case = load_cases("world-2p", 1, 64)[0]
    assert case.prompt.startswith("two people")
    for p in case.truth["people"]:
        assert f"{p['expression']}, {p['pose']}" in case.prompt
    assert case.truth["caption"] != case.prompt and len(case.truth["caption"]) > len(case.prompt)


def test_one_for_all_rows_get_each_persons_category_references_from_the_source_image():
    import pytest

    from layercraft.canvas.types import Category
    from layercraft.eval.cases import load_cases
    from layercraft.eval.methods import canvas_for, get_method

    case = load_cases("world-2p", 1, 64)[0]
    canvas = canvas_for(get_method("one_for_all-plain"), case)
    assert canvas.prompt == case.prompt and canvas.background is None
    assert {lay.id.split("-")[0] for lay in canvas.layers} == set(case.subjects)  # every person, by its layer id
    assert all(not lay.placed for lay in canvas.layers)
    assert {lay.category for lay in canvas.layers} <= {Category.face, Category.upper_garment, Category.lower_garment,
                                                         Category.bag}
    assert canvas_for(get_method("layercomposer"), case) is case.canvas  # other rows keep the layered canvas
    case.truth.pop("world")
    with pytest.raises(ValueError, match="world case"):
        canvas_for(get_method("one_for_all"), case)


def test_condition_tokens_are_recorded_per_method_path(cards, tmp_path):
    from layercraft.canvas import composite

    def gen(case):
        return composite(case.canvas)  # any image: this test is about the cost record

    out = tmp_path / "run"
    for name in ("layercomposer", "lcp"):
        run_method(cards[:1], get_method(name), gen, out, Backends(), opts=RunOptions(progress=False))
    recs = {r["method"]: r for r in load_records(out)}
    assert recs["layercomposer"]["tokens"]["tokens"] > 0
    assert recs["lcp"]["tokens"] == {"tokens": 0, "tokens_unpruned": 0}  # subjects enter through the adapter
