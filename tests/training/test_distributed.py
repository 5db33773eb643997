import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from layercraft.training import TrainConfig, train

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
RUN = {"task": "tiny_task:make", "max_steps": 6, "batch_size": 2, "lr": 0.005, "checkpoint_every": 3,
       "warmup_steps": 2, "lr_schedule": "linear"}


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    cfg = tmp / "cfg.yaml"
    cfg.write_text("".join(f"{k}: {v}\n" for k, v in {**RUN, "output_dir": tmp / "run"}.items()))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(HERE)]), OMP_NUM_THREADS="1")
    launcher = Path(sys.executable).with_name("accelerate")
    res = subprocess.run([str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                          "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "layercraft.training", str(cfg)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return tmp / "run"


def _log(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]


def test_two_process_cpu_ddp_keeps_replicas_in_sync(two_processes):
    rep = json.loads((two_processes / "replicas.json").read_text())
    # each rank drew different batches (rank is folded into the data index), so equal weights after
    # 6 steps mean the gradients were all-reduced
    assert rep["processes"] == 2
    assert rep["fingerprints"][0] == rep["fingerprints"][1]
    assert len(_log(two_processes)) == 6


def test_learning_rate_schedule_counts_optimizer_steps_not_processes(two_processes, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    train(TrainConfig(**RUN, output_dir=tmp_path / "one"))
    one = [r["lr"] for r in _log(tmp_path / "one")]
    two = [r["lr"] for r in _log(two_processes)]
    assert one[:2] == pytest.approx([0.0025, 0.005]) and one[-1] == 0.0  # warm up over 2 steps, then decay to 0
    assert two == pytest.approx(one, rel=1e-12, abs=0)
