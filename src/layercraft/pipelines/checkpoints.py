"""Where a pipeline checkpoint lives and how each of its components is loaded and saved.

- `resolve_folder`: a local folder, or a Hugging Face hub id resolved to its snapshot folder in the local
  cache (`local_files_only=True` never touches the network);
- `component_kwargs`: the loading keywords diffusers users pass (`dtype` / `torch_dtype`, a per-component
  dtype dict with a `"default"`, `device_map`, `quantization_config`, `variant`, `low_cpu_mem_usage`)
  narrowed to one component;
- `stock_model_index`: the model_index.json entries that let stock `DiffusionPipeline.from_pretrained` read a
  layercraft save of stock-architecture components (the transformer is saved under its stock class, whose
  weights it shares key for key).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

LOADING_KEYS = ("dtype", "device_map", "quantization_config", "variant", "low_cpu_mem_usage",
                "local_files_only")
HUB_KEYS = ("cache_dir", "revision", "local_files_only", "token")
OWN_PIPELINE_KEY = "_layercraft_pipeline"
STOCK_LIBRARIES = ("diffusers", "transformers")


def normalise_dtype_keyword(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The older `torch_dtype=` keyword as diffusers' and transformers' current `dtype=`; both is an error."""
    kwargs = dict(kwargs)
    if "torch_dtype" in kwargs:
        if "dtype" in kwargs:
            raise ValueError("give dtype or torch_dtype, not both")
        kwargs["dtype"] = kwargs.pop("torch_dtype")
    return kwargs


def resolve_folder(path: str | os.PathLike, kwargs: dict[str, Any]) -> Path:
    """A local checkpoint folder for `path`: the folder itself, or a hub id's snapshot in the local cache."""
    local = Path(path)
    if local.is_dir():
        return local
    name = str(path)
    if name.count("/") != 1 or local.suffix:
        raise FileNotFoundError(f"no pipeline folder at {name!r} (and it is not a hub id 'owner/name')")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, **{k: kwargs[k] for k in HUB_KEYS if k in kwargs}))
    except Exception as err:  # the hub's own errors name the cause (offline, missing revision, …)
        raise FileNotFoundError(f"hub id {name!r} could not be resolved to a local snapshot: {err}") from err


def read_model_index(folder: Path) -> dict[str, Any]:
    path = folder / "model_index.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def is_own_save(index: dict[str, Any]) -> bool:
    """A folder our save_pretrained wrote (a layercraft pipeline class, or components of layercraft classes)."""
    return OWN_PIPELINE_KEY in index or any(isinstance(v, list) and str(v[0]).startswith("layercraft")
                                            for v in index.values())


def component_dtype(dtype: Any, name: str) -> torch.dtype | None:
    """The dtype for component `name` from a dtype or a {component: dtype, "default": dtype} dict."""
    if isinstance(dtype, dict):
        return dtype.get(name, dtype.get("default"))
    return dtype


def component_kwargs(name: str, kwargs: dict[str, Any], *, is_diffusers: bool = True) -> dict[str, Any]:
    """The loading keywords for one component's own `from_pretrained`."""
    out: dict[str, Any] = {}
    dtype = component_dtype(kwargs.get("dtype"), name)
    if dtype is not None:
        out["dtype"] = dtype
    device_map = kwargs.get("device_map")
    if isinstance(device_map, dict):
        device_map = device_map.get(name)
    if device_map is not None and device_map not in ("balanced",):  # "balanced" places whole components
        out["device_map"] = device_map
    quant = kwargs.get("quantization_config")
    if quant is not None:
        resolve = getattr(quant, "_resolve_quant_config", None)
        config = resolve(is_diffusers=is_diffusers, module_name=name) if resolve is not None else quant
        if config is not None:
            out["quantization_config"] = config
    for key in ("variant", "low_cpu_mem_usage", "local_files_only"):
        if key in kwargs:
            out[key] = kwargs[key]
    return out


def stock_model_index(index: dict[str, Any], pipeline_class: str) -> dict[str, Any]:
    """model_index.json rewritten so stock diffusers can read it: the transformer under its stock class, and when
    every component then has a stock class, the pipeline recorded as FLUX.1 Kontext (layercraft's own class kept
    under `_layercraft_pipeline`)."""
    index = dict(index)
    if index.get("transformer") == ["layercraft.models.transformer", "LayercraftFluxTransformer"]:
        index["transformer"] = ["diffusers", "FluxTransformer2DModel"]
    components = {k: v for k, v in index.items() if not k.startswith("_") and isinstance(v, list)}
    stock = all(v[0] is None or v[0] in STOCK_LIBRARIES for v in components.values())
    if stock and components.get("text_encoder_2", [None])[0] is not None:
        index[OWN_PIPELINE_KEY] = pipeline_class
        index["_class_name"] = "FluxKontextPipeline"
        for optional in ("image_encoder", "feature_extractor"):
            index.setdefault(optional, [None, None])
    return index
