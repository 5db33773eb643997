"""Guidance-distilled adapters: one transformer pass per step instead of one per guidance branch.

An adapter folder (written by the `guidance_distill` training task) holds a LoRA in diffusers' format
(`pytorch_lora_weights.safetensors`, `transformer.`-prefixed keys, peft config in its metadata), the guidance-scale
embedder (`guidance_scale_embedder.safetensors`) and `distilled.json` (teacher, scale ranges, measured settings).
`load_distilled_guidance(pipe, folder)` turns the teacher pipeline into the student: the embedder is attached, the
LoRA loaded and, by default, fused into the weights (no LoRA cost per call). Afterwards `pipe(…,
true_cfg_scale=…, canvas_cfg_scale=…)` feeds both scales to the model and runs one pass per step.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

EMBEDDER_FILE = "guidance_scale_embedder.safetensors"
CARD_FILE = "distilled.json"


def is_distilled_adapter(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / EMBEDDER_FILE).is_file() and (folder / CARD_FILE).is_file()


def distilled_card(folder: str | Path) -> dict:
    return json.loads((Path(folder) / CARD_FILE).read_text())


def load_distilled_guidance(pipe, folder: str | Path, *, fuse: bool = True):
    """Attach the adapter in `folder` to `pipe` (in place) and return it; `fuse` merges the LoRA into the weights."""
    folder = Path(folder)
    if not is_distilled_adapter(folder):
        raise FileNotFoundError(f"{folder} is not a guidance-distilled adapter (needs {EMBEDDER_FILE} and {CARD_FILE})")
    transformer = pipe.transformer
    if transformer.guidance_scale_embedder is not None:
        raise ValueError("this pipeline's transformer is already guidance-distilled")
    transformer.enable_distilled_guidance()
    state = load_file(str(folder / EMBEDDER_FILE))
    ref = transformer.x_embedder.weight
    transformer.guidance_scale_embedder.load_state_dict({k: v.to(ref.device, ref.dtype) for k, v in state.items()},
                                                        strict=True)
    if (folder / "pytorch_lora_weights.safetensors").is_file():
        pipe.load_lora_weights(str(folder), adapter_name="distilled_guidance")
        if fuse:
            pipe.fuse_lora(components=["transformer"], lora_scale=1.0)
            pipe.unload_lora_weights()  # the fused weights stay; the LoRA layers go
    return pipe
