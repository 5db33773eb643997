"""Typed training configuration, loadable from YAML. One config = one resumable training stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator


class FlowConfig(BaseModel):
    """Rectified-flow timestep sampling as FLUX / SD3 train: logit-normal density, then a shift."""

    model_config = ConfigDict(extra="forbid")
    weighting_scheme: Literal["logit_normal", "uniform", "mode"] = "logit_normal"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    mode_scale: float = 1.29
    shift: float = 1.0  # σ ← shift·σ / (1 + (shift − 1)·σ); > 1 spends more steps at high noise


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = Field(..., description="Registered task name or 'module:factory' import path")
    task_args: dict[str, Any] = Field(default_factory=dict)
    output_dir: Path = Path("out/train")
    seed: int = 0
    max_steps: int = 1000
    batch_size: int = 8  # per process, per micro-step
    grad_accum: int = 1
    lr: float = 3e-4
    weight_decay: float = 0.0
    # "adamw" (torch) or bitsandbytes' "adamw8bit" / "paged_adamw" / "paged_adamw8bit" (training.optim)
    optimizer: Literal["adamw", "adamw8bit", "paged_adamw", "paged_adamw8bit"] = "adamw"
    warmup_steps: int = 0
    lr_schedule: Literal["constant", "cosine", "linear"] = "constant"
    max_grad_norm: float = 1.0
    # "auto": bf16 on an accelerator that supports it (else fp16), on a CPU bf16 only where it computes bf16
    # natively (AVX-512 BF16 / AMX) and full fp32 elsewhere (emulated bf16 is several times slower than fp32)
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "no"
    gradient_checkpointing: bool = False
    ema_decay: float = 0.0  # 0 disables EMA
    checkpoint_every: int = 100
    keep_checkpoints: int = Field(2, ge=1)
    sample_every: int = 0  # 0 disables sample images
    log_every: int = 10
    # worker processes that build the next micro-batches while the model trains (training/prefetch.py): the same
    # batches as 0 (each is a pure function of its index); tasks that stream a dataset set their own workers
    data_workers: int = Field(0, ge=0)
    # stop cleanly once this much wall-clock time has passed (a checkpoint, then the export), whatever max_steps
    # says: a fixed-length job on a rented or shared machine; a resumed run gets the budget again
    max_minutes: float | None = Field(None, gt=0)
    flow: FlowConfig = Field(default_factory=FlowConfig)
    # Resuming refuses a changed batch size, learning rate or seed (the run would silently become a
    # different one); set this to resume with the new values anyway.
    resume_override: bool = False

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _yaml_no(cls, value: Any) -> Any:
        """YAML reads a bare `no` as false: `mixed_precision: no` (or `mixed_precision=no`) means "no"."""
        return "no" if value is False else value

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a training config must be a YAML mapping")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
