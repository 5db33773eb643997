"""LoRA adapters (peft) on the transformer's attention projections, saved in diffusers' format.

`add_attention_lora` attaches a trainable adapter; the pipeline's `save_lora_weights` /
`load_lora_weights` (diffusers' FluxLoraLoaderMixin) write and read `pytorch_lora_weights.safetensors`
with `transformer.`-prefixed keys, the format FLUX LoRAs are shared in. The adapter's peft config (rank,
alpha, targets) is written into the file's metadata, as diffusers' own training scripts write it, so an adapter
whose alpha differs from its rank reloads with the same scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict

from ..models.transformer import LayercraftFluxTransformer

ATTENTION_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"]


def add_attention_lora(transformer: LayercraftFluxTransformer, rank: int = 16, alpha: float | None = None,
                       adapter_name: str = "default", init_lora_weights: bool | str = True) -> None:
    """Attach a LoRA of `rank` to every attention projection (double and single blocks)."""
    config = LoraConfig(r=rank, lora_alpha=rank if alpha is None else alpha, target_modules=ATTENTION_TARGETS,
                        init_lora_weights=init_lora_weights)
    transformer.add_adapter(config, adapter_name=adapter_name)


def adapter_metadata(model: torch.nn.Module, adapter_name: str = "default") -> dict[str, Any]:
    """The adapter's peft config as diffusers saves it beside the weights (`transformer_lora_adapter_metadata`)."""
    return model.peft_config[adapter_name].to_dict()


def save_attention_lora(pipe, directory: str | Path, adapter_name: str = "default") -> Path:
    """Write the transformer's adapter (weights and config) with the pipeline's diffusers-format saver."""
    layers = get_peft_model_state_dict(pipe.transformer, adapter_name=adapter_name)
    type(pipe).save_lora_weights(directory, transformer_lora_layers=layers,
                                 transformer_lora_adapter_metadata=adapter_metadata(pipe.transformer, adapter_name))
    return Path(directory)
