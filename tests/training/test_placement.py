"""Every component the canvas loss runs sits on the accelerator's device, under one dtype policy."""

import re
from pathlib import Path

import torch
from accelerate import Accelerator

from layercraft.training import TrainConfig, build_task, train

SRC = Path(__file__).resolve().parents[2] / "src" / "layercraft" / "training"


def _task(**task_args):
    return build_task(TrainConfig(task="canvas", task_args={"model": "tiny-test", "size": 32, **task_args}))


def _devices_and_dtypes(task):
    """Per component with tensors (the tiny pixel-unshuffle VAE has none): its devices and floating dtypes."""
    out = {}
    for name, m in task.components().items():
        tensors = [*m.parameters(), *m.buffers()]
        if tensors:
            out[name] = ({t.device for t in tensors}, {t.dtype for t in tensors if t.is_floating_point()})
    return out


def test_setup_under_an_accelerator_puts_every_component_on_its_device():
    task = _task()
    accelerator = Accelerator(cpu=True)
    task.setup(accelerator)
    placed = _devices_and_dtypes(task)
    assert {"transformer", "text_encoder", "vae"} <= set(task.components())
    assert {"transformer", "text_encoder"} <= set(placed)
    assert all(devs == {accelerator.device} for devs, _ in placed.values()), placed
    assert task.pipe._execution_device == accelerator.device


def test_place_moves_every_component_frozen_ones_in_the_frozen_dtype():
    # "meta" stands in for an accelerator: a device no component starts on
    task = _task()
    task.place("meta", torch.bfloat16)
    placed = _devices_and_dtypes(task)
    assert all(devs == {torch.device("meta")} for devs, _ in placed.values()), placed
    assert placed["transformer"][1] == {torch.float32}  # trained in full: float32 master weights
    assert all(dtypes == {torch.bfloat16} for name, (_, dtypes) in placed.items() if name != "transformer")
    assert task.pipe._execution_device == torch.device("meta")


def test_a_lora_base_takes_the_frozen_dtype_and_its_adapter_stays_float32():
    task = _task(lora_rank=4)
    task.place("meta", torch.bfloat16)
    trained = {id(p) for p in task.trainable_parameters()}
    assert trained and all(p.dtype == torch.float32 for p in task.trainable_parameters())
    assert {p.dtype for p in task.model.parameters() if id(p) not in trained} == {torch.bfloat16}


def test_frozen_dtype_policy(monkeypatch):
    import layercraft.training.tasks.canvas as canvas_task

    task = _task()
    cuda = torch.device("cuda", 0)  # a device object only: nothing is allocated
    assert task.frozen_dtype(cuda, "bf16") == torch.bfloat16 and task.frozen_dtype(cuda, "fp16") == torch.float16
    assert task.frozen_dtype(cuda, "no") == torch.float32
    cpu = torch.device("cpu")
    monkeypatch.setattr(canvas_task, "cpu_has_native_bf16", lambda: False)
    assert task.frozen_dtype(cpu, "bf16") == torch.float32  # emulated bf16 matmuls are slow: keep fp32
    monkeypatch.setattr(canvas_task, "cpu_has_native_bf16", lambda: True)
    assert task.frozen_dtype(cpu, "bf16") == torch.bfloat16  # AVX-512 BF16 / AMX: bf16 is the faster one
    assert task.frozen_dtype(cpu, "no") == torch.float32
    assert _task(frozen_dtype="bfloat16").frozen_dtype(torch.device("cpu"), "no") == torch.bfloat16


def test_trainer_sets_the_task_up_on_the_accelerator_before_wrapping(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    from tiny_task import TinyFlowTask

    seen = []

    class Placed(TinyFlowTask):
        def setup(self, accelerator):
            seen.append((accelerator.device, type(self.model).__name__))

    cfg = TrainConfig(task="tiny_task:make", output_dir=tmp_path / "run", max_steps=1, batch_size=2)
    train(cfg, task=Placed(cfg))
    assert seen == [(torch.device("cpu"), "FluxTransformer2DModel")]  # called once, on the unwrapped model


def test_training_code_never_picks_a_device_by_name():
    pattern = re.compile(r"\.cuda\(|[\"']cuda(:\d+)?[\"']")
    hits = [f"{p.name}:{i}" for p in SRC.rglob("*.py") for i, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line)]
    assert hits == []


def test_dreambooth_flux_setup_puts_its_pipeline_on_the_accelerator_device():
    task = build_task(TrainConfig(task="flux_dreambooth", task_args={
        "model": "tiny-test", "world_scene": 90000003, "num_instance": 1, "size": 32, "lora_rank": 2}))
    accelerator = Accelerator(cpu=True)
    task.setup(accelerator)
    mods = [m for m in task.pipe.components.values() if isinstance(m, torch.nn.Module)]
    assert mods and all(p.device == accelerator.device for m in mods for p in m.parameters())
    assert task._latents.device == accelerator.device
    loss, _ = task.loss(task.model, task.batch(0, 0, 1), torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)


def test_lcp_adapter_setup_puts_pipeline_and_adapter_on_the_accelerator_device():
    task = build_task(TrainConfig(task="lcp_flux_adapter", task_args={"model": "tiny-test", "size": 32}))
    accelerator = Accelerator(cpu=True)
    task.setup(accelerator)
    mods = [m for m in task.pipe.components.values() if isinstance(m, torch.nn.Module)] + [task.model]
    assert all(p.device == accelerator.device for m in mods for p in m.parameters())
    assert task.pipe._execution_device == accelerator.device
