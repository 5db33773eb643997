"""`layercraft studio`: serve the layered-canvas editor on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from ..canvas.errors import OptionError
from ..refusals import RefusalCommand
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


@app.command("studio", cls=RefusalCommand)
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
    timeout: float = typer.Option(600.0, "--timeout", min=1.0, max=86400.0, help="Seconds one generation may run."),
    allow_host: list[str] = typer.Option(None, "--allow-host", help="Another host name the browser may use to reach "
                                         "the studio (the Host header); loopback names are always allowed."),
) -> None:
    """Serve layercraft studio; the model loads on the first generation."""
    import uvicorn

    from ..models.registry import REGISTRY
    from ..pipelines.loading import BUILT_IN
    from .jobs import GenerationService
    from .server import create_app

    if model not in BUILT_IN and model not in REGISTRY and not Path(model).exists():
        raise OptionError(f"model folder not found: {model}")
    from ..pipelines.loading import resolve_placement

    try:  # refuse a bad device / dtype now, not at the first generation
        target, _ = resolve_placement(device, dtype)
    except ValueError as err:
        raise OptionError(str(err)) from None
    if offload and target == "cpu":
        raise OptionError("--offload needs an accelerator device (model CPU offload onto it)")
    service = GenerationService(pipeline_loader(model, device, dtype, offload), queue_size=queue_size,
                                timeout_s=timeout,
                                model_name=Path(model).name)
    from ..pipelines.loading import trained_sizes

    extra_hosts = [*(allow_host or []), *([] if host in ("0.0.0.0", "::", "") else [host])]
    config = StudioConfig(data_dir=data_dir or default_data_dir(), new_project_settings=studio_settings(model),
                          allowed_hosts=tuple(extra_hosts), trained_sizes=tuple(trained_sizes(model)))
    typer.echo(f"layercraft studio on http://{host}:{port}  (projects autosaved in {config.data_dir})")
    uvicorn.run(create_app(config, service), host=host, port=port, log_level="warning")
