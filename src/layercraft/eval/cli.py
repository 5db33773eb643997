"""`layercraft eval …`: run benchmark suites, summarise runs, write the HTML report. Wiring only."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

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
    from .cases import load_cases
    from .embedding_scores import ClipScorer, DinoScorer
    from .loading import load_backends, load_pipeline, model_resolution
    from .scoring import ScoreConfig

    ms = [get_method(m) for m in methods]
    need_pipe = any(m.kind in ("pipeline", "base_t2i") for m in ms)
    pipe = load_pipeline(model) if need_pipe else None
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
    summary(out)


@app.command("summary")
def summary(run_dir: Path = typer.Argument(..., help="Run folder.")) -> None:
    """Summarise a run (all shards): print the table and write RUN/summary.csv."""
    from .records import load_records
    from .summary import summarize, write_csv

    rows = summarize(load_records(run_dir))
    write_csv(rows, run_dir / "summary.csv")
    cols = ["method", "suite", "n_cases", "sim_gt", "cp", "missing_rate", "ap50", "iou", "lock_psnr", "tokens",
            "seconds"]
    table = Table(*cols)
    for r in rows:
        table.add_row(*[f"{r.get(c):.3f}" if isinstance(r.get(c), float) else str(r.get(c, "—")) for c in cols])
    console.print(table)
    console.print(f"wrote {run_dir / 'summary.csv'}")


@app.command("floor")
def floor(
    run_dir: Path = typer.Argument(..., help="Run folder with ground_truth rows on 1P, 4P and lock."),
    method: list[str] = typer.Option([DEFAULT_METHOD], help="Method row(s) to hold against the floor."),
    out: Path = typer.Option(None, help="Also write the markdown table here."),
) -> None:
    """Issue 5's quality floor (identity over the ground-truth bound, AP50, prompt accuracy, lock SSIM)."""
    from .floor import floor_table
    from .records import load_records
    from .summary import summarize

    table = floor_table(summarize(load_records(run_dir)), list(method))
    console.print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(table)
        tmp.replace(out)
        console.print(f"wrote {out}")


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., help="Run folder."),
    out: Path = typer.Option(Path("docs/eval"), help="Report folder (index.html, plots, thumbnails, summary.csv)."),
    title: str = typer.Option("layercraft evaluation", help="Page title."),
    max_cases: int = typer.Option(4, help="Cases per suite in the image grids."),
) -> None:
    """Write the HTML report of a run."""
    from .report import write_report

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


@app.command("blend-sweep")
def blend_sweep_cmd(
    lora: Path = typer.Option(..., help="DreamBooth LoRA folder (task flux_dreambooth) personalizing the model."),
    model: str = typer.Option("default", help="The vanilla model the LoRA was trained on."),
    scene: int = typer.Option(90000003, help="World scene of the LoRA's subject (its instance images → reference)."),
    lambdas: str = typer.Option("0,1,2,3,4,6,8,20", help="λ1 values (vanilla steps), comma-separated."),
    prompts: int = typer.Option(8, help="Prompts: captions of held-out single-person world scenes."),
    seeds: int = typer.Option(4, help="Seeds per prompt."),
    first_seed: int = typer.Option(0, help="First seed (an independent replicate starts past the sweep's seeds)."),
    steps: int = typer.Option(20, help="Sampling steps."),
    true_cfg: float = typer.Option(3.0, help="True CFG scale of the layout stage."),
    out: Path = typer.Option(Path("docs/eval/blend_sweep"), help="Folder for sweep.csv/json/png and image strips."),
    retouch: bool = typer.Option(True, help="Also retouch every layout image (stage 2) and measure the result."),
    swap_steps: int = typer.Option(None, help="Retouch λ2 (steps with the layout path's Q/K/V); default 2/5 of the "
                                   "retouch steps."),
    retouch_steps: int = typer.Option(None, help="Inversion and retouch steps (default: --steps)."),
    align: bool = typer.Option(False, help="Move the reference's person into the layout's person box before the "
                               "retouch (RoPE makes Flux attention position-biased; measured: no effect here)."),
    inversion_refine: int = typer.Option(0, min=0, help="Fixed-point iterations per flow-inversion step (0: the "
                                         "plain inversion; each one more model call per step)."),
) -> None:
    """Layout-and-Retouch: centre-point spread and identity similarity against λ1, step blending alone and with
    retouch (the subject's first instance image as the reference)."""
    from ..pipelines.retouch.dreambooth_flux import world_instances
    from ..pipelines.retouch.pipeline_flux import default_swap_steps
    from .blend_sweep import blend_sweep, personalized_pipeline, reference_embedding, sweep_prompts, write_sweep
    from .loading import load_backends, model_resolution

    pipe = personalized_pipeline(model, lora)
    size = model_resolution(model) or 128
    be = load_backends("world")
    instances = [im for im, _ in world_instances(scene, 4, size)]
    reference = reference_embedding(instances, be.detector, be.identity)
    pairs = sweep_prompts(prompts, size)
    lam = [int(x) for x in lambdas.split(",")]
    seed_list = list(range(first_seed, first_seed + seeds))
    rows = blend_sweep(pipe, pairs, lam, seed_list, steps, size, be.detector, be.identity, reference,
                       true_cfg, out / "images", instances[0] if retouch else None, swap_steps, align,
                       retouch_steps, inversion_refine)
    write_sweep(rows, out, {"model": model, "lora": str(lora), "scene": scene, "steps": steps, "true_cfg": true_cfg,
                            "prompts": [p for _, p in pairs], "seeds": seeds, "first_seed": first_seed,
                            "retouch": retouch, "retouch_steps": retouch_steps or steps,
                            "swap_steps": swap_steps if swap_steps is not None
                            else default_swap_steps(retouch_steps or steps), "align_reference": align,
                            "inversion_refine": inversion_refine})

    _print_sweep(rows, out)


@app.command("blend-pool")
def blend_pool_cmd(
    sweeps: list[Path] = typer.Argument(..., help="Sweep folders (each with sweep.json) to pool: replicates with "
                                        "disjoint seeds and the same settings."),
    out: Path = typer.Option(..., help="Folder for the pooled sweep.csv/json/png."),
) -> None:
    """Pool replicate λ1 sweeps into one (their images together) and judge the claim on the union."""
    import json

    from .blend_sweep import pool_sweeps, write_sweep

    data = []
    for folder in sweeps:
        path = folder / "sweep.json"
        if not path.is_file():
            raise typer.BadParameter(f"no sweep.json in {folder}")
        data.append(json.loads(path.read_text()))
    settings = [{k: d["meta"].get(k, POOL_DEFAULTS.get(k)) for k in POOL_SETTINGS} for d in data]
    if any(x != settings[0] for x in settings):
        raise typer.BadParameter(f"the sweeps differ in their settings ({', '.join(POOL_SETTINGS)}): {settings}")
    seeds = [(d["meta"].get("first_seed", 0), d["meta"].get("seeds")) for d in data]
    try:
        rows = pool_sweeps(data)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    write_sweep(rows, out, {**settings[0], "pooled": [str(f) for f in sweeps], "seed_ranges": seeds})
    _print_sweep(rows, out)


POOL_SETTINGS = ("model", "lora", "scene", "steps", "true_cfg", "prompts", "retouch", "retouch_steps", "swap_steps",
                 "align_reference", "inversion_refine")
POOL_DEFAULTS = {"inversion_refine": 0}  # what sweeps written before a setting existed ran with


def _print_sweep(rows, out: Path) -> None:
    from .blend_sweep import holds

    def fmt(x: float | None, digits: int = 4) -> str:
        return "—" if x is None else f"{x:.{digits}f}"

    for r in rows:
        ci = "" if r.spread_delta_lo is None else f" (Δ 95% CI [{r.spread_delta_lo:+.4f}, {r.spread_delta_hi:+.4f}])"
        line = f"λ1={r.blend_steps:2d}  spread={fmt(r.spread)}{ci}  sim={fmt(r.sim, 3)}  detected={r.detected:.2f}"
        if r.retouched_sim is not None:
            rci = "" if r.retouched_delta_lo is None else \
                f" (Δ vs λ1=0 [{r.retouched_delta_lo:+.4f}, {r.retouched_delta_hi:+.4f}])"
            sci = "" if r.retouched_step_delta_lo is None else \
                f" (vs retouched λ1=0 [{r.retouched_step_delta_lo:+.4f}, {r.retouched_step_delta_hi:+.4f}])"
            line += f"  | retouched: spread={fmt(r.retouched_spread)}{rci}{sci}  sim={fmt(r.retouched_sim, 3)}"
        console.print(line)
    console.print(f"step blending alone: claim holds at λ1 = {holds(rows)}")
    if any(r.retouched_sim is not None for r in rows):
        console.print(f"with retouch: claim holds at λ1 = {holds(rows, retouched=True)}")
    console.print(f"wrote {out}")
