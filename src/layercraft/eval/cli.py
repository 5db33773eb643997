"""`layercraft eval …`: run benchmark suites, summarise runs, write the HTML report. Wiring only."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..canvas.errors import OptionError
from .methods import DEFAULT_METHOD, METHODS, REFERENCE_ROWS, get_method, make_generate
from .runner import RunOptions, parse_shard, run_method

app = typer.Typer(help="Evaluate: benchmark suites → images, per-case records, summary CSV, HTML report.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console(soft_wrap=True)
ALL_SUITES = ["world-1p", "world-2p", "world-4p", "world-6p", "world-8p", "world-occlusion", "world-lock"]


def run_suites(suites: list[str], methods: list[str], out: Path, *, model: str = "default", count: int | None = None,
               size: int | None = None, steps: int = 28, guidance: float = 3.5, true_cfg: float = 1.0,
               shard: str = "0/1",
               variant: str | None = None, backends: str = "auto", clip: Path | None = None,
               dino: Path | None = None, match: str = "box", progress: bool = True,
               lcp_adapter: Path | None = None) -> int:
    """Run every (suite, method); returns the number of images generated. The pipeline is loaded once."""
    from .cases import load_cases, suite_name
    from .embedding_scores import ClipScorer, DinoScorer
    from .loading import load_backends, load_pipeline, model_resolution
    from .scoring import ScoreConfig

    try:  # every name checked before the model loads: a typo costs nothing
        ms = [get_method(m) for m in methods]
        for suite in suites:
            if not suite.endswith(".jsonl"):
                suite_name(suite)
            elif not Path(suite).is_file():
                raise ValueError(f"suite {suite}: no such file")
    except ValueError as err:
        raise OptionError(str(err)) from None
    need_pipe = any(m.kind in ("pipeline", "base_t2i", "autoencoder") for m in ms)
    try:
        pipe = load_pipeline(model) if need_pipe else None
    except (ValueError, OSError) as err:
        raise OptionError(f"--model {model}: {str(err).splitlines()[0]}") from None
    size = size or (model_resolution(model) if need_pipe else None)
    be = load_backends(backends)
    if be.missing():
        console.print(f"[yellow]no backend for:[/yellow] {', '.join(be.missing())} — recorded as skipped")
    score = ScoreConfig(match=match, clip=ClipScorer.from_dir(clip) if clip else None,
                        dino=DinoScorer.from_dir(dino) if dino else None)
    opts = RunOptions(model=model, token_px=pipe.stride if pipe is not None else 16, shard=parse_shard(shard),
                      progress=progress, variant=variant)
    total = 0
    for suite in suites:
        cases = load_cases(suite, count, size)
        for m in ms:
            gen = make_generate(m, pipe, steps=steps, guidance=guidance, identity=be.identity, true_cfg=true_cfg,
                                lcp_adapter=lcp_adapter)
            total += run_method(cases, m, gen, out, be, score, opts)
    return total


@app.command("run")
def run(
    suite: list[str] = typer.Option(["world-4p"], help=f"Suite(s): {', '.join(ALL_SUITES)}, or a cases .jsonl."),
    method: list[str] = typer.Option([DEFAULT_METHOD], help=f"Method(s): {', '.join(METHODS)}."),
    references: bool = typer.Option(False, help=f"Also run the reference rows: {', '.join(REFERENCE_ROWS)}."),
    model: str = typer.Option("default", help="Registry model name or a pipeline directory."),
    out: Path = typer.Option(Path("out/eval"), help="Run folder: records*.jsonl, images/, cases/, summary.csv."),
    count: int = typer.Option(None, help="First N cases of each suite (default: all)."),
    size: int = typer.Option(None, help="Render world cases at this side in px (default: the model's)."),
    steps: int = typer.Option(28, help="Sampling steps."),
    guidance: float = typer.Option(3.5, help="Guidance scale."),
    true_cfg: float = typer.Option(1.0, help="True classifier-free guidance scale (> 1: a negative pass per step)."),
    shard: str = typer.Option("0/1", help="'i/n': this process runs cases i, i+n, …; 'auto': accelerate rank."),
    variant: str = typer.Option(None, help="Record methods as METHOD@VARIANT (e.g. a differently trained model)."),
    backends: str = typer.Option("auto", help="Perception backends: auto (world models if present), world, "
                                              "real (real-photo faces and people) or none."),
    clip: Path = typer.Option(None, help="Local CLIPModel directory for CLIP-T / CLIP-I."),
    dino: Path = typer.Option(None, help="Local Dinov2Model directory for DINO similarity."),
    match: str = typer.Option("box", help="Match generated to GT subjects by 'box' IoU or 'embedding'."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    lcp_adapter: Path = typer.Option(None, help="Trained LcpFluxAdapter folder for the lcp* methods."),
) -> None:
    """Generate and score; resumable (cases already in the run folder are skipped)."""
    methods = list(dict.fromkeys([*(REFERENCE_ROWS if references else ()), *method]))
    n = run_suites(suite, methods, out, model=model, count=count, size=size, steps=steps, guidance=guidance,
                   true_cfg=true_cfg, shard=shard, variant=variant, backends=backends, clip=clip, dino=dino,
                   match=match, progress=progress, lcp_adapter=lcp_adapter)
    console.print(f"generated {n} images into {out}")
    from .records import load_records

    if load_records(out):  # a shard may hold no case
        summary(out)


@app.command("summary")
def summary(run_dir: Path = typer.Argument(..., help="Run folder.")) -> None:
    """Summarise a run (all shards): print the table and write RUN/summary.csv."""
    from .records import load_records
    from .summary import summarize, write_csv

    records = load_records(run_dir)
    if not records:
        raise OptionError(f"{run_dir}: no records (a folder written by `layercraft eval run`)")
    rows = summarize(records)
    write_csv(rows, run_dir / "summary.csv")
    cols = ["method", "suite", "n_cases", "sim_gt", "cp", "missing_rate", "ap50", "iou", "lock_psnr", "tokens",
            "seconds"]
    table = Table(*cols)
    for r in rows:
        table.add_row(*[f"{r.get(c):.3f}" if isinstance(r.get(c), float) else str(r.get(c, "—")) for c in cols])
    console.print(table)
    console.print(f"wrote {run_dir / 'summary.csv'}")


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., help="Run folder."),
    out: Path = typer.Option(Path("docs/eval"), help="Report folder (index.html, plots, thumbnails, summary.csv)."),
    title: str = typer.Option("layercraft evaluation", help="Page title."),
    max_cases: int = typer.Option(4, help="Cases per suite in the image grids."),
) -> None:
    """Write the HTML report of a run."""
    from .records import load_records
    from .report import write_report

    if not load_records(run_dir):
        raise OptionError(f"{run_dir}: no records (a folder written by `layercraft eval run`)")
    console.print(f"wrote {write_report(run_dir, out, title, max_cases)}")


@app.command("bench")
def bench(
    model: str = typer.Option("default", help="Registry model name or a pipeline directory."),
    run_dir: Path = typer.Option(Path("out/eval/bench"), help="Run folder."),
    out: Path = typer.Option(Path("docs/eval"), help="Report folder."),
    count: int = typer.Option(8, help="Cases per suite."),
    steps: int = typer.Option(28, help="Sampling steps."),
    method: list[str] = typer.Option([DEFAULT_METHOD], help="Model method(s) besides the reference rows."),
    ablations: bool = typer.Option(True, help="Also run each ablation's two rows on its own suite."),
    true_cfg: float = typer.Option(1.0, help="True classifier-free guidance scale (> 1: a negative pass per step)."),
) -> None:
    """All world suites × (reference rows + METHOD), each ablation's rows on its suite, then the report:
    the one command behind docs/eval/."""
    run_suites(ALL_SUITES, list(dict.fromkeys([*REFERENCE_ROWS, *method])), run_dir, model=model, count=count,
               steps=steps, true_cfg=true_cfg)
    if ablations:
        for suite, methods in ablation_plan().items():
            run_suites([suite], methods, run_dir, model=model, count=count, steps=steps, true_cfg=true_cfg)
    summary(run_dir)
    report(run_dir, out, f"layercraft evaluation — {model}", 4)


def ablation_plan() -> dict[str, list[str]]:
    """suite → the ablation rows to run there; rows of separately trained variants (NAME@VARIANT) come from
    `eval run --variant` on their own model and are left out."""
    from .ablations import ABLATIONS

    plan: dict[str, list[str]] = {}
    for a in ABLATIONS:
        rows = plan.setdefault(f"world-{a.suite.lower()}", [])
        rows += [m for m in (a.baseline, a.variant) if m in METHODS and m not in rows]
    return {suite: rows for suite, rows in plan.items() if rows}
