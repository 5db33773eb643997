"""Checkpoint rotation, a cut-short log line and changed settings on resume."""

import json
from pathlib import Path

import pytest
from accelerate import Accelerator

from layercraft.training import TrainConfig, latest_checkpoint, train
from layercraft.training.trainer import ResumeMismatch

HERE = Path(__file__).parent


def cfg(out, **kw):
    base = dict(task="tiny_task:make", output_dir=out, max_steps=4, batch_size=2, lr=2e-3, checkpoint_every=2,
                keep_checkpoints=1, log_every=1)
    base.update(kw)
    return TrainConfig(**base)


def steps(out):
    return [json.loads(x)["step"] for x in (Path(out) / "log.jsonl").read_text().splitlines()]


class Killed(Exception):
    pass


def test_a_kill_during_a_checkpoint_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    out = tmp_path / "run"
    real_save = Accelerator.save_state
    calls = []

    def save_then_die(self, *a, **kw):  # the second save writes its files, then the process dies
        calls.append(1)
        path = real_save(self, *a, **kw)
        if len(calls) == 2:
            raise Killed
        return path

    monkeypatch.setattr(Accelerator, "save_state", save_then_die)
    with pytest.raises(Killed):
        train(cfg(out))
    ckpt = latest_checkpoint(out)
    assert ckpt is not None and (ckpt / "COMPLETE").read_text() == "2"  # with keep_checkpoints=1
    monkeypatch.setattr(Accelerator, "save_state", real_save)
    res = train(cfg(out))
    assert res.steps == 4 and len(res.losses) == 2  # resumed at step 2, not from scratch
    assert steps(out) == [1, 2, 3, 4]
    assert [p.name for p in (out / "checkpoints").iterdir()] == [latest_checkpoint(out).name]


def test_resume_tolerates_a_log_line_cut_short(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    out = tmp_path / "run"
    train(cfg(out, max_steps=2))
    with (out / "log.jsonl").open("a") as f:
        f.write('{"step": 3, "loss": 0.12')  # the crash came mid-write
    res = train(cfg(out, max_steps=4))
    assert res.steps == 4 and steps(out) == [1, 2, 3, 4]


def test_resume_refuses_changed_settings_unless_overridden(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    out = tmp_path / "run"
    train(cfg(out, max_steps=2))
    for key, value in (("batch_size", 3), ("lr", 1e-3), ("seed", 7)):
        with pytest.raises(ResumeMismatch, match=f"would change {key}"):
            train(cfg(out, max_steps=4, **{key: value}))
    assert steps(out) == [1, 2]  # nothing ran
    res = train(cfg(out, max_steps=4, resume_override=True, lr=1e-3))
    assert res.steps == 4 and len(res.losses) == 2
    with pytest.raises(ResumeMismatch, match="would change lr 0.001 → 0.002"):  # the override's values now hold
        train(cfg(out, max_steps=6))
