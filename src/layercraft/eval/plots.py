"""Matplotlib plots for the report: quality and cost against the number of subjects (1P … 8P)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

N_SUBJECTS = {"1P": 1, "2P": 2, "4P": 4, "6P": 6, "8P": 8}


def by_subjects(summary: list[dict], metric: str) -> dict[str, list[tuple[int, float]]]:
    """method → [(number of subjects, value)] over the count suites, sorted; missing values left out."""
    out: dict[str, list[tuple[int, float]]] = {}
    for r in summary:
        n = N_SUBJECTS.get(r["suite"])
        if n is not None and r.get(metric) is not None:
            out.setdefault(r["method"], []).append((n, float(r[metric])))
    return {m: sorted(v) for m, v in out.items()}


def plot_vs_subjects(summary: list[dict], metrics: list[str], path: Path, title: str) -> Path | None:
    """One panel per metric, one line per method; None (no file) when no metric has data."""
    series = {m: by_subjects(summary, m) for m in metrics}
    metrics = [m for m in metrics if series[m]]
    if not metrics:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3.0), squeeze=False)
    for ax, m in zip(axes[0], metrics, strict=True):
        for method, pts in series[m].items():
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=method)
        ax.set_xlabel("subjects")
        ax.set_title(m)
        ax.set_xticks(sorted(N_SUBJECTS.values()))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
