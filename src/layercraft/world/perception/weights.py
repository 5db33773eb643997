"""Saving and loading perception weights: safetensors (never pickle) plus a JSON config beside them."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "perception"


def save(model: torch.nn.Module, name: str, config: dict, directory: Path = ASSETS) -> Path:
    """Write `<name>.safetensors` (fp16 floats, buffers included) and `<name>.json`; return the weights path."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    path = directory / f"{name}.safetensors"
    save_file(state, str(path))
    (directory / f"{name}.json").write_text(json.dumps(config, indent=1) + "\n")
    return path


def load_config(name: str, directory: Path = ASSETS) -> dict:
    return json.loads((directory / f"{name}.json").read_text())


def load_into(model: torch.nn.Module, name: str, directory: Path = ASSETS) -> torch.nn.Module:
    """Load `<name>.safetensors` into `model` (cast to the model's dtypes), set eval mode."""
    state = load_file(str(directory / f"{name}.safetensors"))
    own = model.state_dict()
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model.eval()
