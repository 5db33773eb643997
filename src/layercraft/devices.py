"""Where a model runs and in which dtype, by what the machine can do: `--device` / `--dtype` as the CLI, the studio
and the upscaler take them. Imports only torch (cheap to import, unlike the pipelines)."""

from __future__ import annotations

from pathlib import Path

import torch

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX): without it bf16 matmuls are emulated and run
    several times slower than fp32, so fp32 is the faster choice."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = {f for line in cpuinfo.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()}
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_mixed_precision(mixed_precision: str, use_cuda: bool | None = None) -> str:
    """A training config's `mixed_precision` → what accelerate is given ("no", "bf16", "fp16"). "auto" picks by the
    machine: bf16 on a CUDA device that supports it, else fp16; on a CPU bf16 only where it is native, else "no"."""
    if mixed_precision != "auto":
        return mixed_precision
    if torch.cuda.is_available() if use_cuda is None else use_cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_native_bf16() else "no"


def resolve_placement(device: str = "auto", dtype: str = "auto") -> tuple[str, torch.dtype]:
    """`--device` / `--dtype` as the CLI and studio take them → (torch device, dtype). auto: the accelerator when
    there is one (bf16 where it supports it, else fp16), else the CPU in fp32 — bf16 only on CPUs that compute it
    natively."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r} (auto, cpu, cuda, cuda:N, mps)") from err
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for but no CUDA device is available")
    if dtype == "auto":
        if device.startswith("cuda"):
            return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device == "mps":
            return device, torch.float16
        return device, torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from auto, {', '.join(DTYPES)}")
    return device, DTYPES[dtype]
