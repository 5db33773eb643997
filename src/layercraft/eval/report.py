"""The HTML report of a run: summary tables per suite, the ablation table, plots and image grids.

`write_report(run_dir, out_dir)` reads the run's records, writes `summary.csv`, `index.html`,
`quality_vs_subjects.png`, `cost_vs_subjects.png` and thumbnails under `out_dir/images/` — a
self-contained folder (relative links), e.g. docs/eval/.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from PIL import Image

from .ablations import ablation_deltas, ablation_rows
from .methods import REFERENCE_ROWS
from .plots import plot_vs_subjects
from .records import load_records
from .summary import COLUMNS, summarize, write_csv

TABLE_COLUMNS = [c for c in COLUMNS if c not in ("method", "suite")]
QUALITY = ["sim_gt", "cp", "iou", "fid"]
COST = ["tokens", "seconds", "peak_mb"]
THUMB = 160


def _fmt(v) -> str:
    if v is None or v == "":
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))


def _table(header: list[str], rows: list[list]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _order(methods: list[str]) -> list[str]:
    """Reference rows first, in their fixed order, then the rest as they come."""
    return [m for m in REFERENCE_ROWS if m in methods] + [m for m in methods if m not in REFERENCE_ROWS]


def _thumb(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    im = Image.open(src).convert("RGB")
    im.thumbnail((THUMB, THUMB))
    im.save(dst)


def _grid(run: Path, out: Path, suite: str, records: list[dict], methods: list[str], max_cases: int) -> str:
    """Rows = cases; columns = canvas collage | each method's output | ground truth."""
    cases = sorted({r["case"] for r in records if r["suite"] == suite})[:max_cases]
    by = {(r["method"], r["case"]): r for r in records if r["suite"] == suite}
    cols = ["canvas collage", *[m for m in methods if m != "ground_truth"], "ground truth"]
    rows = []
    for c in cases:
        cells = []
        srcs = [run / "cases" / suite / c / "collage.png"]
        srcs += [run / by[(m, c)]["image"] if (m, c) in by else None for m in cols[1:-1]]
        srcs.append(run / "cases" / suite / c / "gt.png")
        for name, src in zip(cols, srcs, strict=True):
            if src is None or not src.exists():
                cells.append("<td>—</td>")
                continue
            rel = Path("images") / suite / c / f"{name.replace(' ', '_')}.png"
            _thumb(src, out / rel)
            cells.append(f'<td><img src="{rel.as_posix()}" alt="{html.escape(name)}"></td>')
        rows.append(f"<tr><th>{html.escape(c)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["case", *cols])
    return f'<table class="grid"><tr>{head}</tr>{"".join(rows)}</table>'


CSS = """body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0;
font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f3f3f3}
.grid td{padding:1px}img{display:block}h2{margin-top:2em}"""


def _delta(d: dict | None) -> str:
    return "—" if d is None else f"{d['delta']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}] (n={d['n']})"


def _blend_sweep(out: Path, replicate: str = "") -> str:
    """The Layout-and-Retouch λ1 sweep section, when `python -m experiments.blend_sweep sweep` wrote
    OUT/blend_sweep/sweep.json; replicate
    sweeps in its sub-folders (OUT/blend_sweep/NAME/sweep.json) follow it, each with its own verdict."""
    folder = f"blend_sweep/{replicate}" if replicate else "blend_sweep"
    path = out / folder / "sweep.json"
    if not path.is_file():
        return ""
    data = json.loads(path.read_text())
    def interval(r: dict, key: str = "spread_delta") -> str:
        lo, hi = r.get(f"{key}_lo"), r.get(f"{key}_hi")
        return "" if lo is None else f"[{lo:+.4f}, {hi:+.4f}]"

    def verdict(key: str) -> str:
        if not data.get("identity_carried", True):
            return ("cannot be judged: the personalized model (λ1 = 0) does not carry the subject's identity better "
                    "than the vanilla model")
        return f"holds at λ1 = {html.escape(str(data[key]))}" if data[key] else "not reproduced at any λ1"

    def spread(v: float | None) -> str:  # σ² of normalised centres is ~0.001-0.03: four decimals
        return "—" if v is None else f"{v:.4f}"

    retouched = "claim_holds_at_retouched" in data
    head = ["λ1", "centre spread σ²", "Δσ² vs λ1 = 0 (95 % CI)", "identity sim", "detected", "images"]
    rows = [[r["blend_steps"], spread(r["spread"]), interval(r), r["sim"], r["detected"], r["n_images"]]
            for r in data["rows"]]
    if retouched:
        head += ["retouched σ²", "Δσ² vs λ1 = 0 (95 % CI)", "Δσ² vs retouched λ1 = 0", "retouched sim"]
        for row, r in zip(rows, data["rows"], strict=True):
            row += [spread(r.get("retouched_spread")), interval(r, "retouched_delta"),
                    interval(r, "retouched_step_delta"), r.get("retouched_sim")]
    claims = f"step blending alone: {verdict('claim_holds_at')}"
    if retouched:
        claims += f"; step blending + retouch: {verdict('claim_holds_at_retouched')}"
    replicates = [] if replicate else [_blend_sweep(out, p.parent.name)
                                       for p in sorted((out / "blend_sweep").glob("*/sweep.json"))]
    title = (f"<h3>Replicate <code>{html.escape(replicate)}</code></h3>" if replicate
             else "<h2>Layout-and-Retouch: step-blending λ1 sweep</h2>")
    return (title + f"<p>{_sweep_settings(data.get('meta', {}))}</p>"
            + "<p>Claim (spread rises — its bootstrap interval above 0 — with identity similarity within 10 % of "
            f"the personalized model alone, λ1 = 0): {claims}.</p>"
            + _table(head, rows) + f'<img src="{html.escape(folder)}/sweep.png" alt="λ1 sweep">'
            + ("" if replicate else _inversion_bench(out)) + "".join(replicates))


def _inversion_bench(out: Path) -> str:
    """The flow-inversion check of `python -m experiments.bench_inversion`, when it wrote
    OUT/blend_sweep/inversion.json."""
    path = out / "blend_sweep" / "inversion.json"
    if not path.is_file():
        return ""
    data = json.loads(path.read_text())
    first = data["results"][0]["s_per_image"]
    rows = [[r["steps"], r["refine"], r["calls"], f"{r['err_median']:.3f} / {r['err_max']:.3f}",
             f"{r['pixel_mae']:.1f}", _fmt(r["centre_shift"]), "—" if r["spread"] is None else f"{r['spread']:.4f}",
             f"{r['s_per_image'] / first:.2f}"] for r in data["results"]]
    layout = data.get("layout_spread")
    return ("<h3>The retouch's flow inversion, then regeneration</h3>"
            f"<p>{data['n_images']} layout images inverted with the personalized model and regenerated unguided "
            "(the retouch's paths without the swap); the layouts' own centre spread σ² = "
            f"{'—' if layout is None else f'{layout:.4f}'}.</p>"
            + _table(["steps", "fixed-point iterations", "model calls / image", "rel. latent error (median / max)",
                      "pixel MAE", "centre shift", "regenerated σ²", "time (× first)"], rows))


def _sweep_settings(meta: dict) -> str:
    """One line on how a sweep ran: steps, seeds (or the pooled replicates), λ2, reference alignment."""
    parts = [f"{meta['steps']} steps"] if meta.get("steps") else []
    if meta.get("pooled"):
        parts.append("pooled from " + ", ".join(f"<code>{html.escape(Path(p).name)}</code>" for p in meta["pooled"]))
    elif meta.get("seeds"):
        first = meta.get("first_seed", 0)
        parts.append(f"seeds {first}-{first + meta['seeds'] - 1} per prompt")
    if meta.get("retouch"):
        of = f" of {meta['retouch_steps']} retouch steps" if meta.get("retouch_steps") else ""
        parts.append(f"retouch λ2 = {meta.get('swap_steps')}{of}")
        if meta.get("inversion_refine"):
            parts.append(f"{meta['inversion_refine']} fixed-point iterations per inversion step")
        if "align_reference" in meta:
            parts.append("reference moved into the layout's person box" if meta["align_reference"]
                         else "reference at its own position")
    return "Settings: " + "; ".join(parts) + "." if parts else ""


def write_report(run: str | Path, out: str | Path, title: str = "layercraft evaluation", max_cases: int = 4) -> Path:
    run, out = Path(run), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = load_records(run)
    if not records:
        raise ValueError(f"no records under {run}")
    summary = summarize(records)
    write_csv(summary, out / "summary.csv")
    suites = list(dict.fromkeys(r["suite"] for r in summary))
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{len(records)} generated images; models: "
             f"{html.escape(', '.join(sorted({str(r.get('model')) for r in records if r.get('model')})) or '—')}. "
             "Reference rows: ground truth (upper bound), collage (pasted reference: copy-paste bound), "
             "base_t2i (no canvas: floor), kontext_collage. Metric definitions: "
             "<code>src/layercraft/eval/</code>, one module per family.</p>"]
    for fname, metrics, t in (("quality_vs_subjects.png", QUALITY, "quality vs number of subjects"),
                              ("cost_vs_subjects.png", COST, "cost vs number of subjects")):
        if plot_vs_subjects(summary, metrics, out / fname, t):
            parts.append(f'<img src="{fname}" alt="{t}">')
    parts.append("<h2>Ablations</h2>")
    ab = ablation_rows(summary)
    parts.append(_table(["paper", "claim", "suite", "method", "role", "metrics"],
                        [[a["paper"], a["claim"], a["suite"], a["method"], a["role"],
                          "; ".join(f"{k}={_fmt(v)}" for k, v in a["metrics"].items()) if a["ran"] else "not run"]
                         for a in ab]))
    parts.append("<p>Paired differences (variant − baseline) over the cases both rows ran, with 95 % bootstrap "
                 "intervals: a claim is supported only where the interval excludes 0.</p>")
    parts.append(_table(["paper", "claim", "suite", "Δ sim_gt", "Δ cp", "Δ iou"],
                        [[d["paper"], d["claim"], d["suite"], *map(_delta, d["deltas"].values())]
                         for d in ablation_deltas(records)]))
    parts.append(_blend_sweep(out))
    for suite in suites:
        rows = [r for r in summary if r["suite"] == suite]
        methods = _order([r["method"] for r in rows])
        by = {r["method"]: r for r in rows}
        cols = [c for c in TABLE_COLUMNS if any(by[m].get(c) is not None for m in methods)]
        parts.append(f"<h2>Suite {html.escape(suite)}</h2>")
        parts.append(_table(["method", *cols], [[m, *[by[m].get(c) for c in cols]] for m in methods]))
        parts.append(_grid(run, out, suite, records, methods, max_cases))
    page = f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>' \
           f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    (out / "index.html").write_text(page)
    return out / "index.html"
