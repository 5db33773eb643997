"""dtype by capability: fp32 on CPUs that emulate bf16, bf16 where it is native."""

import pytest
import torch

from layercraft import devices


@pytest.mark.parametrize(("native", "want"), [(False, torch.float32), (True, torch.bfloat16)])
def test_auto_dtype_on_the_cpu_follows_native_bf16(monkeypatch, native, want):
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda cpuinfo=None: native)
    assert devices.resolve_placement("cpu", "auto") == ("cpu", want)
    assert devices.resolve_placement("cpu", "float32") == ("cpu", torch.float32)  # an explicit dtype wins


def test_the_upscaler_takes_the_same_rule(monkeypatch):
    from layercraft.upscale import Upscaler

    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda cpuinfo=None: False)
    assert Upscaler.from_bundled("anime", device="cpu").dtype == torch.float32
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda cpuinfo=None: True)
    assert Upscaler.from_bundled("anime", device="cpu").dtype == torch.bfloat16


@pytest.mark.parametrize("native, want", [(True, "bf16"), (False, "no")])
def test_auto_mixed_precision_on_the_cpu_follows_native_bf16(monkeypatch, native, want):
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda cpuinfo=None: native)
    assert devices.resolve_mixed_precision("auto", use_cuda=False) == want
    assert devices.resolve_mixed_precision("bf16", use_cuda=False) == "bf16"  # an explicit choice is kept
    assert devices.resolve_mixed_precision("no", use_cuda=False) == "no"


def test_a_training_config_takes_auto_mixed_precision():
    from layercraft.training.config import TrainConfig

    assert TrainConfig(task="canvas", mixed_precision="auto").mixed_precision == "auto"
    with pytest.raises(ValueError):
        TrainConfig(task="canvas", mixed_precision="bf32")
