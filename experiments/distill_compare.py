"""The guidance-distilled student against its teacher, side by side on the same held-out cases and seeds.

    python -m experiments.distill_compare [--student default-distilled] [--count 16] [--steps 10 6 4]
                                          [--people-rows] [--out out/eval/distill] [--table TABLE.md]

Rows: the teacher (`default`, 10 steps, three branches per step: text CFG 3 and canvas CFG 2, the card's
settings) and the student at each of `--steps` (one pass per step, the same scales as its input), with and
without lock blend 0.75 on the lock suite. The table gives the quality floor of each row, the paired per-case
difference student − teacher of identity Sim(GT) and layout IoU with its 95 % bootstrap interval, and the
generation seconds per image the run recorded. `--people-rows` also runs the 2P, 6P and 8P suites (teacher and
the student at the last of `--steps`) and prints one row per people count, 1P to 8P: identity over the ground
truth's bound, AP50 and the paired Δ Sim(GT). The run folder is resumable (cases already there are skipped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from experiments.floor import TARGETS, floor_value

METHOD = "layercomposer-canvas-cfg-2.0"
LOCKED = "layercomposer-canvas-cfg-2.0-lock-blend-0.75"
SUITES = ["world-1p", "world-4p", "world-lock"]
SUITE_KEYS = {"world-1p": "1P", "world-4p": "4P", "world-lock": "lock"}
PEOPLE = ["world-1p", "world-2p", "world-4p", "world-6p", "world-8p"]


def _seconds(records: list[dict], method: str) -> float | None:
    vals = [r["cost"]["seconds"] for r in records if r["method"] == method and isinstance(r.get("cost"), dict)
            and isinstance(r["cost"].get("seconds"), (int, float))]
    return float(np.median(vals)) if vals else None


def people_table(records: list[dict], summary: list[dict], student: str, n: int) -> str:
    """One row per people count: identity over the GT bound and AP50, teacher and student, and the paired Δ."""
    from experiments.floor import Target
    from layercraft.eval.ablations import paired_delta

    lines = [f"| people | identity / GT bound, teacher | student {n} steps | Δ Sim(GT) [95 % CI] | AP50, teacher "
             f"| student {n} steps |", "|---|---|---|---|---|---|"]
    for suite in PEOPLE:
        key = suite.removeprefix("world-").upper()
        ident, ap = Target("", key, "sim_gt", 0, relative=True), Target("", key, "ap50", 0)
        vals = [floor_value(summary, m, t) for t in (ident, ap) for m in (METHOD, student)]
        d = paired_delta(records, key, METHOD, student, "sim_gt")
        cells = ["—" if v is None else f"{v:.3f}" for v in vals]
        delta = "—" if d is None else f"{d['delta']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"
        lines.append(f"| {key} | {cells[0]} | {cells[1]} | {delta} | {cells[2]} | {cells[3]} |")
    return "\n".join(lines)


def main(
    student: str = typer.Option("default-distilled", help="The student: a model name or distilled adapter folder."),
    count: int = typer.Option(16, help="Cases per suite."),
    steps: list[int] = typer.Option([10, 6, 4], help="Student step counts."),
    out: Path = typer.Option(Path("out/eval/distill"), help="Run folder."),
    table: Path = typer.Option(None, help="Also write the markdown table here."),
    people_rows: bool = typer.Option(False, help="Also run 2P, 6P, 8P and print the 1P-8P table."),
) -> None:
    from layercraft.eval.ablations import paired_delta
    from layercraft.eval.cli import run_suites
    from layercraft.eval.records import load_records
    from layercraft.eval.summary import summarize

    run_suites(SUITES, ["ground_truth", METHOD], out, model="default", count=count, steps=10, true_cfg=3.0)
    run_suites(["world-lock"], [LOCKED], out, model="default", count=count, steps=10, true_cfg=3.0)
    for n in steps:
        run_suites(SUITES, [METHOD], out, model=student, count=count, steps=n, true_cfg=3.0, variant=f"student-{n}")
        run_suites(["world-lock"], [LOCKED], out, model=student, count=count, steps=n, true_cfg=3.0,
                   variant=f"student-{n}")
    if people_rows:
        extra = [s for s in PEOPLE if s not in SUITES]
        run_suites(extra, ["ground_truth", METHOD], out, model="default", count=count, steps=10, true_cfg=3.0)
        run_suites(extra, [METHOD], out, model=student, count=count, steps=steps[-1], true_cfg=3.0,
                   variant=f"student-{steps[-1]}")
    records = load_records(out)
    summary = summarize(records)
    rows = [("teacher, 10 steps × 3 passes", METHOD, LOCKED)]
    rows += [(f"student, {n} steps × 1 pass", f"{METHOD}@student-{n}", f"{LOCKED}@student-{n}") for n in steps]
    lines = ["| floor | target | " + " | ".join(name for name, _, _ in rows) + " |", "|" + "---|" * (2 + len(rows))]
    for t in TARGETS:
        cells = []
        for _, m, _ in rows:
            v = floor_value(summary, m, t)
            cells.append("—" if v is None else f"{v:.3f}" + (" ✓" if v >= t.floor else ""))
        lines.append(f"| {t.name} | ≥ {t.floor:g} | " + " | ".join(cells) + " |")
    locked = [floor_value(summary, lk, TARGETS[-1]) for _, _, lk in rows]
    lines.append("| … with lock blend 0.75 | ≥ 0.85 | " + " | ".join("—" if v is None else f"{v:.3f}"
                                                               for v in locked) + " |")
    for suite in SUITES[:2]:
        for metric in ("sim_gt", "iou"):
            cells = ["—"]
            for _, m, _ in rows[1:]:
                d = paired_delta(records, SUITE_KEYS[suite], METHOD, m, metric)
                cells.append("—" if d is None else f"{d['delta']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]")
            lines.append(f"| Δ {metric} vs teacher, {SUITE_KEYS[suite]} | — | " + " | ".join(cells) + " |")
    for label, base, pick in (("", METHOD, 1), (", lock blend 0.75", LOCKED, 2)):
        cells = ["—"]
        for row in rows[1:]:
            d = paired_delta(records, "lock", base, row[pick], "lock_ssim")
            cells.append("—" if d is None else f"{d['delta']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]")
        lines.append(f"| Δ locked-layer SSIM vs teacher{label} | — | " + " | ".join(cells) + " |")
    secs = [_seconds(records, m) for _, m, _ in rows]
    lines.append("| seconds per image in this run (median over its cases, fp32) | — | "
                 + " | ".join("—" if s is None else f"{s:.2f}" for s in secs) + " |")
    if people_rows:
        lines += ["", people_table(records, summary, f"{METHOD}@student-{steps[-1]}", steps[-1])]
    text = "\n".join(lines) + "\n"
    print(text)
    if table is not None:
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text(text)


if __name__ == "__main__":
    typer.run(main)
