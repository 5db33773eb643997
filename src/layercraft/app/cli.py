"""`layercraft studio`: serve the layered-canvas editor on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from .config import StudioConfig, default_data_dir
from .model import pipeline_loader

app = typer.Typer(help="The layered-canvas editor in the browser.", no_args_is_help=False,
                  pretty_exceptions_enable=False)


def studio_settings(model: str) -> dict:
    """The model's recommended sampling settings (pipeline keywords) as studio Settings fields."""
    from ..pipelines.loading import recommended_settings

    names = {"num_inference_steps": "steps", "guidance_scale": "guidance", "true_cfg_scale": "true_cfg",
             "canvas_cfg_scale": "canvas_cfg", "lock_blend": "lock_blend"}
    return {names[k]: v for k, v in recommended_settings(model).items() if k in names}


@app.command("studio")
def studio(
    model: str = typer.Option("default", "--model", help="'default' (the embedded model), a registry name, or a "
                              "folder of a LayeredCanvasPipeline (diffusers layout)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; the default serves this machine only."),
    device: str = typer.Option("auto", "--device", help="torch device for the model: auto, cpu, cuda, cuda:1 ..."),
    dtype: str = typer.Option("auto", "--dtype", help="auto (bf16 on accelerators and bf16-native CPUs, else fp32), "
                              "float32, bfloat16, float16."),
    offload: bool = typer.Option(False, "--offload", help="Model CPU offload onto the accelerator (low memory)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Where projects are autosaved [~/.layercraft/studio]."),
    queue_size: int = typer.Option(4, "--queue-size", min=1, help="Jobs that may wait behind the running one."),
    timeout: float = typer.Option(600.0, "--timeout", min=1.0, help="Seconds one generation may run."),
) -> None:
    """Serve layercraft studio; the model loads on the first generation."""
    import uvicorn

    from ..models.registry import REGISTRY
    from .jobs import GenerationService
    from .server import create_app

    if model != "default" and model not in REGISTRY and not Path(model).exists():
        typer.echo(f"error: model folder not found: {model}", err=True)
        raise typer.Exit(1)
    from ..pipelines.loading import resolve_placement

    try:  # refuse a bad device / dtype now, not at the first generation
        target, _ = resolve_placement(device, dtype)
        if offload and target == "cpu":
            raise ValueError("--offload needs an accelerator device (model CPU offload onto it)")
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    service = GenerationService(pipeline_loader(model, device, dtype, offload), queue_size=queue_size,
                                timeout_s=timeout,
                                model_name=Path(model).name)
    from ..pipelines.loading import trained_sizes

    config = StudioConfig(data_dir=data_dir or default_data_dir(), new_project_settings=studio_settings(model),
                          trained_sizes=tuple(trained_sizes(model)))
    typer.echo(f"layercraft studio on http://{host}:{port}  (projects autosaved in {config.data_dir})")
    uvicorn.run(create_app(config, service), host=host, port=port, log_level="warning")
