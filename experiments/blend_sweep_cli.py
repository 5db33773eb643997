"""The λ1 sweep from the command line.

    python -m experiments.blend_sweep sweep --lora DIR [--model default] [--lambdas 0,1,2,3] …
    python -m experiments.blend_sweep pool SWEEP_DIR… --out DIR
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from experiments.blend_sweep import (
    blend_sweep,
    holds,
    personalized_pipeline,
    pool_sweeps,
    reference_embedding,
    sweep_prompts,
    write_sweep,
)

app = typer.Typer(help="Layout-and-Retouch λ1 sweeps.", no_args_is_help=True, add_completion=False)
console = Console(soft_wrap=True)


@app.command("sweep")
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
    from layercraft.eval.loading import load_backends, model_resolution
    from layercraft.pipelines.retouch.pipeline_flux import default_swap_steps
    from layercraft.training.tasks.dreambooth_flux import world_instances

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


@app.command("pool")
def blend_pool_cmd(
    sweeps: list[Path] = typer.Argument(..., help="Sweep folders (each with sweep.json) to pool: replicates with "
                                        "disjoint seeds and the same settings."),
    out: Path = typer.Option(..., help="Folder for the pooled sweep.csv/json/png."),
) -> None:
    """Pool replicate λ1 sweeps into one (their images together) and judge the claim on the union."""
    import json


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


if __name__ == "__main__":
    app()
