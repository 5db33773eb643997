import numpy as np

from experiments.blend_sweep import (
    SweepRow,
    holds,
    measure,
    reference_embedding,
    spread_delta_interval,
    write_sweep,
)
from layercraft.eval.backends import Detections


class BrightDetector:
    """Detects one 'person': the bounding box of pixels brighter than 128."""

    name = "bright"

    def detect(self, image):
        ys, xs = np.nonzero(image.mean(-1) > 128)
        if not len(xs):
            return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
        return Detections(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], float), np.ones(1),
                          np.zeros(1, int))


class ColourIdentity:
    """Identity = the mean colour inside the box."""

    name = "colour"

    def embed(self, image, boxes):
        out = []
        for x0, y0, x1, y1 in np.asarray(boxes, int):
            e = image[y0:y1, x0:x1].reshape(-1, 3).mean(0)
            out.append(e / np.linalg.norm(e))
        return np.asarray(out)


def _img(x, colour):
    a = np.zeros((16, 16, 3), np.uint8)
    a[4:8, x:x + 4] = colour
    return a


def test_measure_gives_centres_and_similarity_of_the_detected_subject():
    from PIL import Image

    det, ident = BrightDetector(), ColourIdentity()
    ref = reference_embedding([Image.fromarray(_img(6, (200, 200, 0)))], det, ident)
    points, sims = measure([_img(0, (200, 200, 0)), _img(12, (0, 200, 200)), np.zeros((16, 16, 3), np.uint8)],
                           det, ident, ref)
    assert points.shape == (2, 2)  # the blank image has no detection
    assert np.allclose(points[:, 1], 6 / 16) and np.allclose(points[:, 0], [2 / 16, 14 / 16])
    assert np.isclose(sims[0], 1.0) and sims[1] < 0.6


def test_claim_holds_where_spread_rises_and_similarity_stays_within_ten_percent(tmp_path):
    rows = [SweepRow(0, 0.01, 0.80, 1.0, 8), SweepRow(2, 0.03, 0.75, 1.0, 8), SweepRow(4, 0.05, 0.70, 1.0, 8),
            SweepRow(8, 0.005, 0.79, 1.0, 8), SweepRow(20, 0.06, 0.10, 1.0, 8)]
    assert holds(rows) == [2]  # λ=4 loses 12.5 % similarity, λ=8 does not spread, λ=20 (vanilla) loses identity
    no_identity = [SweepRow(0, 0.01, 0.05, 1.0, 8), SweepRow(2, 0.03, 0.05, 1.0, 8), SweepRow(20, 0.06, 0.08, 1.0, 8)]
    assert holds(no_identity) == []  # the personalized model is no closer to the subject than the vanilla one
    write_sweep(rows, tmp_path, {"steps": 20})
    assert (tmp_path / "sweep.png").stat().st_size > 0 and "claim_holds_at" in (tmp_path / "sweep.json").read_text()


def test_report_shows_the_sweep_when_present(tmp_path):
    from layercraft.eval.report import _blend_sweep

    assert _blend_sweep(tmp_path) == ""
    write_sweep([SweepRow(0, 0.01, 0.8, 1.0, 4), SweepRow(3, 0.02, 0.78, 0.75, 4), SweepRow(20, 0.03, 0.1, 1.0, 4)],
                tmp_path / "blend_sweep", {"steps": 20})
    section = _blend_sweep(tmp_path)
    assert "λ1 = [3]" in section and "blend_sweep/sweep.png" in section
    write_sweep([SweepRow(0, 0.01, 0.1, 1.0, 4), SweepRow(20, 0.03, 0.1, 1.0, 4)], tmp_path / "blend_sweep", {})
    assert "cannot be judged" in _blend_sweep(tmp_path)
    write_sweep([SweepRow(0, 0.02, 0.8, 1.0, 4), SweepRow(3, 0.01, 0.78, 0.75, 4), SweepRow(20, 0.03, 0.1, 1.0, 4)],
                tmp_path / "blend_sweep", {})
    assert "not reproduced at any λ1" in _blend_sweep(tmp_path)


def test_spread_interval_is_paired_and_needs_a_real_rise():
    rng = np.random.default_rng(0)
    tight = [np.array([0.5, 0.5]) + rng.normal(0, 0.01, 2) for _ in range(16)]
    wide = [np.array([0.5, 0.5]) + rng.normal(0, 0.2, 2) for _ in range(16)]
    lo, hi = spread_delta_interval(tight, wide)
    assert lo > 0  # clearly more spread
    lo, hi = spread_delta_interval(tight, tight)
    assert lo == hi == 0.0  # the same images: no difference in any resample
    lo, hi = spread_delta_interval(wide, [p + rng.normal(0, 0.02, 2) for p in wide])
    assert lo < 0 < hi  # a small perturbation: the interval spans 0
    assert spread_delta_interval([None] * 8, wide[:8]) is None  # nothing detected at the base


def test_claim_uses_the_interval_when_measured():
    base, vanilla = SweepRow(0, 0.01, 0.80, 1.0, 8), SweepRow(20, 0.06, 0.10, 1.0, 8)
    noisy = SweepRow(2, 0.03, 0.79, 1.0, 8, spread_delta_lo=-0.004, spread_delta_hi=0.05)  # higher σ², CI spans 0
    real = SweepRow(3, 0.03, 0.79, 1.0, 8, spread_delta_lo=0.002, spread_delta_hi=0.05)
    assert holds([base, noisy, real, vanilla]) == [3]


def test_box_segmenter_masks_the_best_person_box():
    from PIL import Image

    from experiments.blend_sweep import box_segmenter

    mask = box_segmenter(BrightDetector())(Image.fromarray(_img(6, (200, 200, 0))))
    assert mask.shape == (16, 16) and mask.sum() == 16 and mask[4:8, 6:10].all()
    assert not box_segmenter(BrightDetector())(Image.fromarray(np.zeros((16, 16, 3), np.uint8))).any()


def test_retouched_claim_is_judged_against_the_personalized_model_alone(tmp_path):
    import json

    base = SweepRow(0, 0.01, 0.80, 1.0, 8, retouched_spread=0.012, retouched_sim=0.95, retouched_detected=1.0)
    lam2 = SweepRow(2, 0.03, 0.60, 1.0, 8, spread_delta_lo=0.004, spread_delta_hi=0.05, retouched_spread=0.028,
                    retouched_sim=0.78, retouched_detected=1.0, retouched_delta_lo=0.003, retouched_delta_hi=0.04)
    lam4 = SweepRow(4, 0.04, 0.50, 1.0, 8, spread_delta_lo=0.01, spread_delta_hi=0.06, retouched_spread=0.02,
                    retouched_sim=0.85, retouched_detected=1.0, retouched_delta_lo=-0.001, retouched_delta_hi=0.03)
    vanilla = SweepRow(20, 0.06, 0.10, 1.0, 8, retouched_sim=0.3)
    rows = [base, lam2, lam4, vanilla]
    assert holds(rows) == []  # step blending alone loses 25 % and more of the similarity
    # λ1 = 2: retouched spread rises and 0.78 ≥ 0.9 · 0.80; λ1 = 4: the retouched spread interval spans 0
    assert holds(rows, retouched=True) == [2]
    write_sweep(rows, tmp_path, {"steps": 20})
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert data["claim_holds_at"] == [] and data["claim_holds_at_retouched"] == [2]


def test_report_shows_both_verdicts_when_the_sweep_retouched(tmp_path):
    from layercraft.eval.report import _blend_sweep

    rows = [SweepRow(0, 0.01, 0.80, 1.0, 8, retouched_spread=0.01, retouched_sim=0.9),
            SweepRow(3, 0.03, 0.50, 1.0, 8, 0.002, 0.04, 0.02, 0.79, 1.0, 0.001, 0.03),
            SweepRow(20, 0.06, 0.10, 1.0, 8, retouched_sim=0.2)]
    write_sweep(rows, tmp_path / "blend_sweep", {"steps": 20})
    section = _blend_sweep(tmp_path)
    assert "step blending alone: not reproduced at any λ1" in section
    assert "step blending + retouch: holds at λ1 = [3]" in section and "retouched sim" in section


def test_report_lists_replicate_sweeps_with_their_own_verdicts(tmp_path):
    from layercraft.eval.report import _blend_sweep

    holding = [SweepRow(0, 0.01, 0.80, 1.0, 8, retouched_spread=0.01, retouched_sim=0.9),
               SweepRow(3, 0.03, 0.50, 1.0, 8, 0.002, 0.04, 0.02, 0.79, 1.0, 0.001, 0.03),
               SweepRow(20, 0.06, 0.10, 1.0, 8, retouched_sim=0.2)]
    failing = [SweepRow(0, 0.01, 0.80, 1.0, 16, retouched_spread=0.01, retouched_sim=0.9),
               SweepRow(3, 0.03, 0.50, 1.0, 16, 0.002, 0.04, 0.02, 0.79, 1.0, -0.001, 0.03),
               SweepRow(20, 0.06, 0.10, 1.0, 16, retouched_sim=0.2)]
    write_sweep(holding, tmp_path / "blend_sweep", {"steps": 20})
    write_sweep(failing, tmp_path / "blend_sweep" / "confirm", {"steps": 20})
    section = _blend_sweep(tmp_path)
    main, replicate = section.split("Replicate <code>confirm</code>")
    assert "step blending + retouch: holds at λ1 = [3]" in main
    assert "step blending + retouch: not reproduced at any λ1" in replicate
    assert 'src="blend_sweep/confirm/sweep.png"' in replicate


def test_report_states_how_each_sweep_ran(tmp_path):
    from layercraft.eval.report import _blend_sweep

    rows = [SweepRow(0, 0.01, 0.80, 1.0, 8), SweepRow(20, 0.06, 0.10, 1.0, 8)]
    write_sweep(rows, tmp_path / "blend_sweep", {"steps": 20, "seeds": 8, "first_seed": 8, "retouch": True,
                                                 "swap_steps": 6, "align_reference": False})
    write_sweep(rows, tmp_path / "blend_sweep" / "pooled", {"steps": 20, "pooled": ["out/a", "out/b"]})
    main, pooled = _blend_sweep(tmp_path).split("Replicate")
    assert "seeds 8-15 per prompt" in main and "λ2 = 6" in main and "reference at its own position" in main
    assert "pooled from <code>a</code>, <code>b</code>" in pooled


def _found(rng, n, sd, sim):
    return [(np.array([0.5, 0.5]) + rng.normal(0, sd, 2), sim) for _ in range(n)] + [(None, None)]


def test_sweep_rows_summarise_per_image_measurements_and_keep_them():
    from experiments.blend_sweep import sweep_rows

    rng = np.random.default_rng(1)
    base, wide = _found(rng, 15, 0.02, 0.8), _found(rng, 15, 0.2, 0.75)
    rows = sweep_rows({3: (wide, wide), 0: (base, None)})
    assert [r.blend_steps for r in rows] == [0, 3] and rows[0].n_images == 16 and rows[0].detected == 15 / 16
    assert np.isclose(rows[1].sim, 0.75) and rows[1].spread > 10 * rows[0].spread and rows[1].spread_delta_lo > 0
    assert rows[1].retouched_delta_lo > 0 and rows[0].retouched_per_image is None
    assert rows[1].per_image[-1] is None and np.allclose(rows[1].per_image[0][:2], wide[0][0])
    import pytest

    with pytest.raises(ValueError, match="λ1 = 0"):
        sweep_rows({3: (wide, None)})


def test_pooled_replicates_are_the_union_of_their_images(tmp_path):
    import json

    import pytest

    from experiments.blend_sweep import pool_sweeps, sweep_rows

    rng = np.random.default_rng(2)
    a = {0: (_found(rng, 7, 0.02, 0.8), _found(rng, 7, 0.03, 0.9)), 3: (_found(rng, 7, 0.1, 0.7),) * 2}
    b = {0: (_found(rng, 7, 0.02, 0.6), _found(rng, 7, 0.03, 0.9)), 3: (_found(rng, 7, 0.1, 0.7),) * 2,
         20: (_found(rng, 7, 0.2, 0.1), None)}
    for name, found in (("a", a), ("b", b)):
        write_sweep(sweep_rows(found), tmp_path / name, {"steps": 20})
    assert "per_image" not in (tmp_path / "a" / "sweep.csv").read_text()  # the CSV keeps to the summary
    data = [json.loads((tmp_path / n / "sweep.json").read_text()) for n in "ab"]
    pooled = pool_sweeps(data)
    assert [r.blend_steps for r in pooled] == [0, 3]  # λ1 = 20 ran in one replicate only
    assert pooled[0].n_images == 16 and np.isclose(pooled[0].sim, 0.7)
    union = sweep_rows({k: (a[k][0] + b[k][0], a[k][1] + b[k][1]) for k in (0, 3)})
    assert np.isclose(pooled[1].spread, union[1].spread) and pooled[1].retouched_delta_lo == union[1].retouched_delta_lo
    data[1]["rows"][0]["per_image"] = []
    with pytest.raises(ValueError, match="per-image"):
        pool_sweeps(data)


def test_blend_pool_command_pools_matching_replicates_and_refuses_mixed_settings(tmp_path):
    import json

    from typer.testing import CliRunner

    from experiments.blend_sweep import sweep_rows
    from experiments.blend_sweep_cli import app

    rng = np.random.default_rng(3)
    meta = {"steps": 20, "swap_steps": 8, "align_reference": True}
    for name, first in (("a", 0), ("b", 8)):
        found = {0: (_found(rng, 7, 0.02, 0.8), None), 3: (_found(rng, 7, 0.1, 0.7), None)}
        write_sweep(sweep_rows(found), tmp_path / name, {**meta, "first_seed": first, "seeds": 8})
    r = CliRunner().invoke(app, ["pool", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    pooled = json.loads((tmp_path / "p" / "sweep.json").read_text())
    assert pooled["rows"][0]["n_images"] == 16 and pooled["meta"]["seed_ranges"] == [[0, 8], [8, 8]]
    write_sweep(sweep_rows(found), tmp_path / "c", {**meta, "align_reference": False})
    r = CliRunner().invoke(app, ["pool", str(tmp_path / "a"), str(tmp_path / "c"), "--out", str(tmp_path / "q")])
    assert r.exit_code != 0 and "differ" in r.output and not (tmp_path / "q").exists()


def test_blend_pool_takes_sweeps_written_before_inversion_refine_as_plain_inversion(tmp_path):

    from typer.testing import CliRunner

    from experiments.blend_sweep import sweep_rows
    from experiments.blend_sweep_cli import app
    from layercraft.eval.report import _sweep_settings

    rng = np.random.default_rng(4)
    found = {0: (_found(rng, 7, 0.02, 0.8), None), 3: (_found(rng, 7, 0.1, 0.7), None)}
    write_sweep(sweep_rows(found), tmp_path / "old", {"steps": 20, "first_seed": 0, "seeds": 8})
    for name, refine, first in (("plain", 0, 8), ("refined", 2, 16)):
        write_sweep(sweep_rows(found), tmp_path / name,
                    {"steps": 20, "inversion_refine": refine, "first_seed": first, "seeds": 8})
    ok = CliRunner().invoke(app, ["pool", str(tmp_path / "old"), str(tmp_path / "plain"), "--out",
                                  str(tmp_path / "p")])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(app, ["pool", str(tmp_path / "old"), str(tmp_path / "refined"), "--out",
                                   str(tmp_path / "q")])
    assert bad.exit_code != 0 and "differ" in bad.output
    line = _sweep_settings({"steps": 20, "retouch": True, "swap_steps": 8, "inversion_refine": 2})
    assert "2 fixed-point iterations per inversion step" in line
    assert "fixed-point" not in _sweep_settings({"steps": 20, "retouch": True, "swap_steps": 8, "inversion_refine": 0})


def test_report_shows_the_inversion_bench_under_the_main_sweep(tmp_path):
    import json

    from layercraft.eval.report import _blend_sweep

    write_sweep([SweepRow(0, 0.01, 0.8, 1.0, 4), SweepRow(3, 0.02, 0.78, 0.75, 4)], tmp_path / "blend_sweep", {})
    assert "flow inversion" not in _blend_sweep(tmp_path)
    res = [{"steps": 20, "refine": k, "calls": 20 * (k + 2), "err_median": e, "err_max": 2 * e, "pixel_mae": 10 * e,
            "centre_shift": None if k else 0.136, "spread": 0.0126, "s_per_image": 2.0 + k} for k, e in ((0, 0.336),
                                                                                                         (2, 0.026))]
    (tmp_path / "blend_sweep" / "inversion.json").write_text(json.dumps({"n_images": 16, "layout_spread": 0.0092,
                                                                          "results": res}))
    section = _blend_sweep(tmp_path)
    assert "flow inversion" in section and "0.336 / 0.672" in section and "0.026 / 0.052" in section
    assert "<td>2.00</td>" in section  # the refined row's time against the first row's: (2 + 2) / 2
    write_sweep([SweepRow(0, 0.01, 0.8, 1.0, 4)], tmp_path / "blend_sweep" / "rep", {})
    assert section.count("flow inversion") == 1 and "flow inversion" not in _blend_sweep(tmp_path, "rep")


def test_the_sweep_inverts_the_reference_once_per_prompt_and_retouches_every_layout():
    import torch
    from PIL import Image

    from experiments.blend_sweep import blend_sweep
    from layercraft.models.transformer import LayercraftFluxTransformer
    from layercraft.pipelines.retouch import LayoutRetouchFluxPipeline
    from lc_spy import record_calls

    pipe = LayoutRetouchFluxPipeline.from_spec("tiny-test")
    torch.manual_seed(1)
    pipe.personalized_transformer = LayercraftFluxTransformer(**pipe.transformer.config).eval()
    pipe.set_progress_bar_config(disable=True)
    calls = record_calls(pipe, "invert_reference")
    ref = Image.fromarray(_img(4, (220, 200, 180)))
    prompts = [("a person on the beach", "a sks person on the beach"), ("a person in a park", "a sks person in a park")]
    rows = blend_sweep(pipe, prompts, [0, 1], [0, 1], 2, 32, BrightDetector(), ColourIdentity(),
                       np.ones(3) / np.sqrt(3), retouch_reference=ref, inversion_refine=1)
    # once per prompt, shared by both seeds and both λ1
    assert [c["prompt"] for c in calls] == [y_r for _, y_r in prompts]
    assert [r.blend_steps for r in rows] == [0, 1] and all(r.n_images == 4 for r in rows)
    assert all(r.retouched_per_image is not None and len(r.retouched_per_image) == 4 for r in rows)
    calls.clear()
    blend_sweep(pipe, prompts[:1], [0], [0], 2, 32, BrightDetector(), ColourIdentity(), np.ones(3) / np.sqrt(3),
                retouch_reference=ref, align_reference=True)
    assert calls == []  # an aligned reference depends on each layout: inverted inside every call


def test_retouched_rows_also_compare_with_the_retouched_personalized_model():
    """The retouch alone (λ1 = 0) can spread the images as much as step blending + retouch: the second interval
    shows what step blending adds inside the whole method."""
    from experiments.blend_sweep import sweep_rows

    rng = np.random.default_rng(5)
    tight, wide = _found(rng, 15, 0.02, 0.8), _found(rng, 15, 0.2, 0.8)
    jittered = [(p + rng.normal(0, 0.02, 2), s) if p is not None else (p, s) for p, s in wide]
    rows = sweep_rows({0: (tight, wide), 3: (tight, jittered)})
    assert rows[1].retouched_delta_lo > 0  # against the personalized model alone: spread up
    assert rows[1].retouched_step_delta_lo < 0 < rows[1].retouched_step_delta_hi  # against the retouched λ1 = 0: none
    assert rows[0].retouched_step_delta_lo is None
    rows = sweep_rows({0: (tight, tight), 3: (tight, wide)})
    assert rows[1].retouched_step_delta_lo > 0
