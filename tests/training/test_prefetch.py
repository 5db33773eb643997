"""Batches built by worker processes (data_workers) and the wall-clock budget (max_minutes)."""

import json
from pathlib import Path

import pytest
import torch

from layercraft.training import TrainConfig, latest_checkpoint, train
from layercraft.training.prefetch import batches

HERE = Path(__file__).parent


def cfg(out, **kw):
    # batch_size 3 over the tiny task's 4 images: consecutive micro-batches differ ([0,1,2], [3,0,1], …)
    base = dict(task="tiny_task:make", output_dir=out, max_steps=6, batch_size=3, lr=2e-3, checkpoint_every=3,
                keep_checkpoints=2)
    base.update(kw)
    return TrainConfig(**base)


def losses(out):
    return [json.loads(x)["loss"] for x in (Path(out) / "log.jsonl").read_text().splitlines()]


class Recording:
    """batch(k) = (k, rank, batch_size): shows which index each delivered batch was built for."""

    def batch(self, index, rank, batch_size):
        return (index, rank, batch_size)


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_batches_come_in_index_order_from_the_start(workers):
    got = list(batches(Recording(), rank=1, batch_size=5, start=4, total=11, workers=workers))
    assert got == [(k, 1, 5) for k in range(4, 11)]


def test_workers_train_exactly_the_inline_run_also_when_resumed(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    inline = train(cfg(tmp_path / "inline")).losses
    worked = train(cfg(tmp_path / "workers", data_workers=2)).losses
    assert torch.allclose(torch.tensor(worked), torch.tensor(inline), rtol=1e-6, atol=0)
    train(cfg(tmp_path / "resumed", data_workers=2, max_steps=3))  # stops at the checkpoint of step 3
    train(cfg(tmp_path / "resumed", data_workers=2))  # its workers start at micro-batch 3, not 0
    assert torch.allclose(torch.tensor(losses(tmp_path / "resumed")), torch.tensor(inline), rtol=1e-6, atol=0)


def test_time_budget_stops_with_a_checkpoint_and_an_export_then_resumes(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    run = tmp_path / "run"
    res = train(cfg(run, max_steps=50, checkpoint_every=20, max_minutes=1e-9))  # spent after the first step
    assert res.steps == 1 and len(losses(run)) == 1
    assert latest_checkpoint(run).name.endswith("_0") and (latest_checkpoint(run) / "COMPLETE").read_text() == "1"
    assert (run / "final" / "diffusion_pytorch_model.safetensors").exists()
    res = train(cfg(run, max_steps=4, checkpoint_every=20, resume_override=True))  # no budget: on to max_steps
    assert res.steps == 4 and len(losses(run)) == 4
    reference = train(cfg(tmp_path / "ref", max_steps=4, checkpoint_every=20)).losses
    assert torch.allclose(torch.tensor(losses(run)), torch.tensor(reference), rtol=1e-6, atol=0)


def test_a_streaming_task_refuses_data_workers(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    import tiny_task

    class Streaming(tiny_task.TinyFlowTask):
        streaming, streams = True, 1

        def stream_loader(self, rank, world_size, positions):
            return iter(())

    c = cfg(tmp_path / "run", data_workers=2)
    with pytest.raises(ValueError, match="data_workers takes 0"):
        train(c, task=Streaming(c))
