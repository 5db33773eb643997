from experiments.floor import TARGETS, floor_table, floor_value


def _rows(sim_1p=0.8, sim_4p=0.7, ap50=0.9, ssim=0.8):
    return [
        {"method": "ground_truth", "suite": "1P", "sim_gt": 0.98},
        {"method": "ground_truth", "suite": "4P", "sim_gt": 0.5},
        {"method": "m", "suite": "1P", "sim_gt": sim_1p},
        {"method": "m", "suite": "4P", "sim_gt": sim_4p, "ap50": ap50, "acc_kind": 1.0, "acc_expression": ""},
        {"method": "m", "suite": "lock", "lock_ssim": ssim},
    ]


def test_identity_is_relative_to_the_ground_truth_bound_and_missing_values_stay_missing():
    by = {t.name: t for t in TARGETS}
    rows = _rows()
    assert abs(floor_value(rows, "m", by["identity Sim(GT) / GT bound, 1P"]) - 0.8 / 0.98) < 1e-9
    assert floor_value(rows, "m", by["identity Sim(GT) / GT bound, 4P"]) == 0.7 / 0.5
    assert floor_value(rows, "m", by["layout AP50, 4P"]) == 0.9
    assert floor_value(rows, "m", by["expression accuracy, 4P"]) is None  # empty cell: not scored
    assert floor_value(rows, "other", by["layout AP50, 4P"]) is None
    no_gt = [r for r in rows if r["method"] != "ground_truth"]
    assert floor_value(no_gt, "m", by["identity Sim(GT) / GT bound, 1P"]) is None


def test_table_marks_exactly_the_targets_reached():
    table = floor_table(_rows(sim_1p=0.78, ap50=0.84, ssim=0.86), ["m"])
    lines = {ln.split(" | ")[0].strip("| "): ln for ln in table.splitlines()[2:]}
    assert lines["identity Sim(GT) / GT bound, 1P"].endswith("| 0.796 |")  # 0.78 / 0.98 < 0.8
    assert "1.400 ✓" in lines["identity Sim(GT) / GT bound, 4P"]
    assert lines["layout AP50, 4P"].endswith("| 0.840 |")
    assert "0.860 ✓" in lines["locked-layer SSIM, lock suite"]
    assert lines["expression accuracy, 4P"].endswith("| — |")
    assert len(table.splitlines()) == 2 + len(TARGETS)
