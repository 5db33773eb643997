import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from layercraft.training import TrainConfig, latest_checkpoint, train
from layercraft.training.flow_matching import clean_estimate, noisy_and_target, shift_sigmas

HERE = Path(__file__).parent
TASK = "tiny_task:make"


def cfg(out, **kw):
    base = dict(task=TASK, output_dir=out, max_steps=40, batch_size=4, lr=2e-3, checkpoint_every=10,
                keep_checkpoints=2, log_every=1)
    base.update(kw)
    return TrainConfig(**base)


def read_log(out):
    return [json.loads(x) for x in (Path(out) / "log.jsonl").read_text().splitlines()]


def test_flow_matching_algebra():
    x0, noise = torch.randn(3, 5, 2), torch.randn(3, 5, 2)
    sig = torch.tensor([0.0, 0.5, 1.0])
    xt, v = noisy_and_target(x0, sig, noise)
    assert torch.allclose(xt[0], x0[0]) and torch.allclose(xt[2], noise[2])
    assert torch.allclose(clean_estimate(xt, sig, v), x0, atol=1e-6)
    s = torch.tensor([0.25, 0.5])
    assert torch.allclose(shift_sigmas(s, 1.0), s) and (shift_sigmas(s, 3.0) > s).all()


def test_tiny_overfit_loss_decreases_and_exports(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    res = train(cfg(tmp_path / "run", max_steps=150, lr=5e-3, ema_decay=0.9, sample_every=75))
    first, last = sum(res.losses[:10]) / 10, sum(res.losses[-10:]) / 10
    assert last < 0.6 * first, (first, last)  # measured: ~1.9 → ~0.8
    assert (tmp_path / "run" / "final" / "diffusion_pytorch_model.safetensors").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == ["step150.json", "step75.json"]
    ckpts = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert len(ckpts) == 2  # older checkpoints pruned to keep_checkpoints
    assert [r["step"] for r in read_log(tmp_path / "run")] == list(range(1, 151))


def _launch(out: Path, max_steps: int) -> subprocess.Popen:
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); from layercraft.training import TrainConfig, train; "
            f"train(TrainConfig(task={TASK!r}, output_dir={str(out)!r}, max_steps={max_steps}, batch_size=4, "
            "lr=2e-3, checkpoint_every=10, keep_checkpoints=2, ema_decay=0.9))")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def test_sigkill_then_resume_continues_the_same_loss_sequence(tmp_path):
    ref = _launch(tmp_path / "ref", 30)
    assert ref.wait(timeout=300) == 0, ref.stderr.read().decode()[-2000:]
    expected = [r["loss"] for r in read_log(tmp_path / "ref")]

    run = tmp_path / "run"
    proc = _launch(run, 30)
    deadline = time.time() + 300
    while time.time() < deadline:  # kill hard once a checkpoint exists and training has gone past it
        ck = latest_checkpoint(run)
        if ck is not None and (run / "log.jsonl").exists() and len(read_log(run)) >= 13:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = int((latest_checkpoint(run) / "COMPLETE").read_text())
    assert killed_at in (10, 20)
    resumed = _launch(run, 30)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()[-2000:]
    got = [r["loss"] for r in read_log(run)]
    assert len(got) == 30
    assert torch.allclose(torch.tensor(got), torch.tensor(expected), rtol=1e-5, atol=1e-6)
    a = load_file(str(tmp_path / "ref" / "final" / "diffusion_pytorch_model.safetensors"))
    b = load_file(str(run / "final" / "diffusion_pytorch_model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # EMA weights match too


def test_warmup_ramps_the_learning_rate(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    train(cfg(tmp_path / "run", max_steps=4, warmup_steps=4, lr=1e-3))
    lrs = [r["lr"] for r in read_log(tmp_path / "run")]
    assert lrs == sorted(lrs) and lrs[0] < 1e-3 and abs(lrs[-1] - 1e-3) < 1e-9


def test_task_param_groups_set_their_own_learning_rates(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    from tiny_task import TinyFlowTask

    class Grouped(TinyFlowTask):
        def param_groups(self, lr):
            frozen = [self.model.proj_out.weight]  # lr 0: must not move
            rest = [p for p in self.model.parameters() if p is not frozen[0]]
            return [{"params": rest}, {"params": frozen, "lr": 0.0, "weight_decay": 0.0}]

    c = cfg(tmp_path / "run", max_steps=3)
    task = Grouped(c)
    before = task.model.proj_out.weight.detach().clone()
    other = task.model.x_embedder.weight.detach().clone()
    train(c, task=task)
    assert torch.equal(task.model.proj_out.weight.detach(), before)
    assert not torch.equal(task.model.x_embedder.weight.detach(), other)
