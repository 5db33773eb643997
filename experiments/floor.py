"""The quality floor of the embedded default, read from a run's summary rows.

    python -m experiments.floor RUN_DIR [--method NAME …] [--out TABLE.md]


Identity is Sim(GT) divided by the ground truth's own Sim(GT) on the same suite (the same-identity bound
the world's identity encoder reaches on real renders), so a row needs `ground_truth` in the same run.
A target is met when the value reaches it; a target whose suite or row has not run shows as missing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    suite: str
    metric: str
    floor: float
    relative: bool = False  # divide by the ground-truth row's value on the same suite


TARGETS = (
    Target("identity Sim(GT) / GT bound, 1P", "1P", "sim_gt", 0.8, relative=True),
    Target("identity Sim(GT) / GT bound, 4P", "4P", "sim_gt", 0.7, relative=True),
    Target("layout AP50, 4P", "4P", "ap50", 0.85),
    Target("background accuracy, 4P", "4P", "acc_kind", 0.85),
    Target("expression accuracy, 4P", "4P", "acc_expression", 0.85),
    Target("locked-layer SSIM, lock suite", "lock", "lock_ssim", 0.85),
)


def floor_value(summary: list[dict], method: str, target: Target) -> float | None:
    """The method's value for one target (relative targets over the ground-truth row), or None if not run."""
    by = {(r["method"], r["suite"]): r for r in summary}
    row = by.get((method, target.suite))
    if row is None or row.get(target.metric) in (None, ""):
        return None
    value = float(row[target.metric])
    if not target.relative:
        return value
    gt = by.get(("ground_truth", target.suite))
    if gt is None or gt.get(target.metric) in (None, "") or float(gt[target.metric]) <= 0:
        return None
    return value / float(gt[target.metric])


def floor_table(summary: list[dict], methods: list[str]) -> str:
    """A markdown table: one row per target, one column per method, ✓ where the floor is reached."""
    head = "| floor | target | " + " | ".join(f"`{m}`" for m in methods) + " |"
    lines = [head, "|" + "---|" * (2 + len(methods))]
    for t in TARGETS:
        cells = []
        for m in methods:
            v = floor_value(summary, m, t)
            cells.append("—" if v is None else f"{v:.3f}" + (" ✓" if v >= t.floor else ""))
        lines.append(f"| {t.name} | ≥ {t.floor:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    import typer
    from rich.console import Console

    from layercraft.eval.methods import DEFAULT_METHOD

    app = typer.Typer(add_completion=False)
    console = Console(soft_wrap=True)

    @app.command()
    def main(
        run_dir: Path = typer.Argument(..., help="Run folder with ground_truth rows on 1P, 4P and lock."),
        method: list[str] = typer.Option([DEFAULT_METHOD], help="Method row(s) to hold against the floor."),
        out: Path = typer.Option(None, help="Also write the markdown table here."),
    ) -> None:
        """The quality floor (identity over the ground-truth bound, AP50, prompt accuracy, lock SSIM)."""
        from layercraft.eval.records import load_records
        from layercraft.eval.summary import summarize

        table = floor_table(summarize(load_records(run_dir)), list(method))
        console.print(table)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_text(table)
            tmp.replace(out)
            console.print(f"wrote {out}")

    app()
